//! A small SMTP server on loopback for the mail tests: speaks enough SMTP for lettre (220
//! greeting, EHLO/HELO, MAIL FROM, RCPT TO, DATA, RSET, NOOP, QUIT), captures every accepted
//! message, and can be switched to refuse recipients with a 4xx or 5xx reply.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// How the sink answers `RCPT TO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `250`: accept every recipient.
    Accept,
    /// Refuse every recipient with this reply, e.g. `451` (try later) or `550` (no such user).
    Refuse(u16),
}

/// A message the sink accepted.
#[derive(Debug, Clone)]
pub struct Captured {
    /// Envelope sender (`MAIL FROM`).
    pub mail_from: String,
    /// Envelope recipients (`RCPT TO`).
    pub rcpt_to: Vec<String>,
    /// The message as sent after `DATA`, dot-unstuffed, CRLF line ends.
    pub data: String,
}

#[derive(Default)]
struct State {
    mode: Mutex<Option<Mode>>,
    messages: Mutex<Vec<Captured>>,
    refused: Mutex<Vec<String>>,
}

/// The running sink; it stops with the test's runtime.
pub struct SmtpSink {
    pub port: u16,
    state: Arc<State>,
}

impl SmtpSink {
    /// Listens on `127.0.0.1:<free port>`, accepting everything.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the SMTP sink");
        let port = listener.local_addr().expect("sink address").port();
        let state = Arc::new(State::default());
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let _ = session(stream, state).await;
                });
            }
        });
        Self { port, state }
    }

    /// `smtp://127.0.0.1:<port>` (plain SMTP: the sink has no TLS).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Changes how recipients are answered from now on.
    pub fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = Some(mode);
    }

    /// Every message accepted so far.
    pub fn messages(&self) -> Vec<Captured> {
        self.state.messages.lock().unwrap().clone()
    }

    /// Messages accepted for `recipient`.
    pub fn messages_to(&self, recipient: &str) -> Vec<Captured> {
        self.messages()
            .into_iter()
            .filter(|m| m.rcpt_to.iter().any(|r| r == recipient))
            .collect()
    }

    /// How many times `recipient` was refused.
    pub fn refusals_of(&self, recipient: &str) -> usize {
        self.state.refused.lock().unwrap().iter().filter(|r| *r == recipient).count()
    }

    /// Waits (up to 15 s) for an accepted message to `recipient` whose subject contains `subject`.
    pub async fn wait_for(&self, recipient: &str, subject: &str) -> Captured {
        for _ in 0..300 {
            if let Some(found) = self
                .messages_to(recipient)
                .into_iter()
                .find(|m| m.header("Subject").is_some_and(|s| s.contains(subject)))
            {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "no message `{subject}` to {recipient} arrived; got {:?}",
            self.messages()
                .iter()
                .map(|m| (m.rcpt_to.clone(), m.header("Subject")))
                .collect::<Vec<_>>()
        );
    }
}

async fn reply(writer: &mut (impl AsyncWriteExt + Unpin), text: &str) -> std::io::Result<()> {
    writer.write_all(text.as_bytes()).await?;
    writer.write_all(b"\r\n").await?;
    writer.flush().await
}

/// The address inside `<...>` of a `MAIL FROM:` / `RCPT TO:` argument.
fn angle_address(argument: &str) -> String {
    let start = argument.find('<').map_or(0, |i| i + 1);
    let end = argument[start..].find('>').map_or(argument.len(), |i| start + i);
    argument[start..end].trim().to_owned()
}

async fn session(stream: TcpStream, state: Arc<State>) -> std::io::Result<()> {
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    reply(&mut writer, "220 sink.kalavpp.test ESMTP ready").await?;
    let mut mail_from: Option<String> = None;
    let mut rcpt_to: Vec<String> = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let command = String::from_utf8_lossy(&line).trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            reply(&mut writer, "250-sink.kalavpp.test greets you\r\n250 8BITMIME").await?;
        } else if upper.starts_with("HELO") {
            reply(&mut writer, "250 sink.kalavpp.test").await?;
        } else if upper.starts_with("MAIL FROM:") {
            mail_from = Some(angle_address(&command[10..]));
            rcpt_to.clear();
            reply(&mut writer, "250 2.1.0 OK").await?;
        } else if upper.starts_with("RCPT TO:") {
            let recipient = angle_address(&command[8..]);
            let mode = state.mode.lock().unwrap().unwrap_or(Mode::Accept);
            match mode {
                Mode::Accept => {
                    rcpt_to.push(recipient);
                    reply(&mut writer, "250 2.1.5 OK").await?;
                }
                Mode::Refuse(code) => {
                    state.refused.lock().unwrap().push(recipient);
                    let text = if code < 500 {
                        format!("{code} 4.3.0 mailbox busy, try again later")
                    } else {
                        format!("{code} 5.1.1 no such user here")
                    };
                    reply(&mut writer, &text).await?;
                }
            }
        } else if upper == "DATA" {
            if mail_from.is_none() || rcpt_to.is_empty() {
                reply(&mut writer, "503 5.5.1 need MAIL and RCPT first").await?;
                continue;
            }
            reply(&mut writer, "354 end data with <CR><LF>.<CR><LF>").await?;
            let mut data = Vec::new();
            loop {
                line.clear();
                if reader.read_until(b'\n', &mut line).await? == 0 {
                    return Ok(());
                }
                if line == b".\r\n" || line == b".\n" {
                    break;
                }
                // Dot-unstuffing (RFC 5321 § 4.5.2).
                let content = if line.starts_with(b"..") { &line[1..] } else { &line[..] };
                data.extend_from_slice(content);
            }
            state.messages.lock().unwrap().push(Captured {
                mail_from: mail_from.take().unwrap_or_default(),
                rcpt_to: std::mem::take(&mut rcpt_to),
                data: String::from_utf8_lossy(&data).into_owned(),
            });
            reply(&mut writer, "250 2.0.0 OK queued").await?;
        } else if upper == "RSET" {
            mail_from = None;
            rcpt_to.clear();
            reply(&mut writer, "250 2.0.0 OK").await?;
        } else if upper.starts_with("NOOP") {
            reply(&mut writer, "250 2.0.0 OK").await?;
        } else if upper == "QUIT" {
            reply(&mut writer, "221 2.0.0 bye").await?;
            return Ok(());
        } else {
            reply(&mut writer, "502 5.5.2 command not implemented").await?;
        }
    }
}

/// Headers (unfolded, `Name: value`) and body of a MIME entity.
fn split_entity(entity: &str) -> (Vec<(String, String)>, String) {
    let (head, body) = entity.split_once("\r\n\r\n").unwrap_or((entity, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    (headers, body.to_owned())
}

fn find_header(headers: &[(String, String)], name: &str) -> Option<String> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
}

fn decode_quoted_printable(text: &str) -> String {
    let bytes = text.replace("=\r\n", "").into_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn decode_body(headers: &[(String, String)], body: &str) -> String {
    match find_header(headers, "Content-Transfer-Encoding")
        .map(|e| e.to_ascii_lowercase())
        .as_deref()
    {
        Some("quoted-printable") => decode_quoted_printable(body),
        Some("base64") => {
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .expect("valid base64 part");
            String::from_utf8(bytes).expect("utf-8 part")
        }
        _ => body.to_owned(),
    }
}

impl Captured {
    /// A top-level header value (unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        find_header(&split_entity(&self.data).0, name)
    }

    /// The decoded body of the part whose `Content-Type` starts with `content_type` (`text/plain`,
    /// `text/html`), looking inside a `multipart/*` body.
    pub fn part(&self, content_type: &str) -> Option<String> {
        let (headers, body) = split_entity(&self.data);
        let top = find_header(&headers, "Content-Type").unwrap_or_default();
        if !top.to_ascii_lowercase().starts_with("multipart/") {
            return top.starts_with(content_type).then(|| decode_body(&headers, &body));
        }
        let boundary = top
            .split(';')
            .find_map(|p| p.trim().strip_prefix("boundary="))
            .map(|b| b.trim_matches('"').to_owned())?;
        body.split(&format!("--{boundary}"))
            .skip(1)
            .filter(|part| !part.starts_with("--"))
            .map(|part| part.trim_start_matches("\r\n"))
            .find_map(|part| {
                let (headers, body) = split_entity(part);
                let kind = find_header(&headers, "Content-Type").unwrap_or_default();
                kind.starts_with(content_type)
                    .then(|| decode_body(&headers, body.trim_end_matches("\r\n")))
            })
    }
}

/// Runs each `async fn(TestApp, SmtpSink)` on both backends with a server delivering its outbox to
/// a fresh sink; the calling module's `mail_settings(&sink_url)` gives the server's overrides.
macro_rules! with_smtp_sink {
    ($($flow:ident),* $(,)?) => {
        $(
            pastey::paste! {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn [<$flow _sqlite>]() {
                    let sink = crate::smtp_sink::SmtpSink::start().await;
                    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite, &mail_settings(&sink.url()))
                        .await
                        .expect("sqlite app");
                    $flow(app, sink).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn [<$flow _postgres>]() {
                    let sink = crate::smtp_sink::SmtpSink::start().await;
                    let Some(app) = crate::helpers::spawn_app(crate::helpers::Backend::Postgres, &mail_settings(&sink.url())).await else {
                        return;
                    };
                    $flow(app, sink).await;
                }
            }
        )*
    };
}
pub(crate) use with_smtp_sink;
