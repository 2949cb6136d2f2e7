//! Bounds on expensive image work: at most as many decodes at once as there are cores, and a
//! pixel budget shared by every decode in flight, so a burst of maximum-size uploads queues
//! instead of pushing memory past a known ceiling (about 4 bytes per budgeted pixel, twice: the
//! decoded image and its re-encode working set).

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::images::MAX_PIXELS;

/// Megapixels that may be decoded at once across all uploads (two maximum-size images).
pub const PIXEL_BUDGET_MEGAPIXELS: u32 = 2 * (MAX_PIXELS / 1_000_000) as u32;

/// The decode gate of one marketplace (no global state: two marketplaces, two gates).
#[derive(Debug)]
pub struct ImageGate {
    decodes: std::sync::Arc<Semaphore>,
    pixels: std::sync::Arc<Semaphore>,
    megapixels: u32,
}

/// Held while one image decodes; dropping it lets the next one in.
#[derive(Debug)]
pub struct DecodePermit {
    _decode: OwnedSemaphorePermit,
    _pixels: OwnedSemaphorePermit,
}

impl Default for ImageGate {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        Self::new(cores, PIXEL_BUDGET_MEGAPIXELS)
    }
}

impl ImageGate {
    /// At most `decodes` decodes at once holding at most `megapixels` together.
    pub fn new(decodes: usize, megapixels: u32) -> Self {
        Self {
            decodes: std::sync::Arc::new(Semaphore::new(decodes.max(1))),
            pixels: std::sync::Arc::new(Semaphore::new(megapixels.max(1) as usize)),
            megapixels: megapixels.max(1),
        }
    }

    /// Waits until an image of `width` × `height` may be decoded.
    ///
    /// # Panics
    /// Never: the gate's semaphores are never closed.
    pub async fn enter(&self, width: u32, height: u32) -> DecodePermit {
        let megapixels = (u64::from(width) * u64::from(height)).div_ceil(1_000_000).max(1);
        let wanted = u32::try_from(megapixels).unwrap_or(u32::MAX).min(self.megapixels);
        // Pixels first (the scarcer resource), then a decode slot; the semaphores are never
        // closed, so acquiring cannot fail.
        let pixels = self
            .pixels
            .clone()
            .acquire_many_owned(wanted)
            .await
            .expect("the pixel gate is never closed");
        let decode = self.decodes.clone().acquire_owned().await.expect("the decode gate is never closed");
        DecodePermit {
            _decode: decode,
            _pixels: pixels,
        }
    }

    /// Decode slots free now.
    pub fn free_decodes(&self) -> usize {
        self.decodes.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_burst_of_large_decodes_holds_the_budget() {
        let gate = Arc::new(ImageGate::new(4, 80));
        let inside = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let (gate, inside, peak) = (gate.clone(), inside.clone(), peak.clone());
            tasks.push(tokio::spawn(async move {
                let _permit = gate.enter(7_000, 5_700).await; // 39.9 MP each
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                inside.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2, "80 MP admit two 40 MP images at once");
        assert_eq!(gate.free_decodes(), 4);
    }
}
