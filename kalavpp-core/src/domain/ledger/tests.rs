//! Randomised properties (seeded, so reproducible) over random lines and random sequences of
//! events, with the status machine deciding which events apply.
use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::domain::{OrderEvent, OrderStatus};

#[derive(Debug, Clone, Copy)]
enum Step {
    Pay { digital_credit_pending: bool },
    Ship(usize),
    Mature(usize),
    Hold,
    Release,
    Refund,
}

fn sums(ledger: &[LinePosting<usize>]) -> HashMap<(usize, LedgerBucket), i64> {
    let mut out = HashMap::new();
    for posting in ledger {
        *out.entry((posting.line, posting.bucket)).or_insert(0) += posting.amount.0;
    }
    out
}

fn bucket_sums(ledger: &[LinePosting<usize>], only: Option<&[LedgerBucket]>) -> Vec<BucketSum<usize>> {
    let mut rows: Vec<_> = sums(ledger)
        .into_iter()
        .filter(|((_, bucket), sum)| *sum != 0 && only.is_none_or(|only| only.contains(bucket)))
        .map(|((line, bucket), sum)| BucketSum {
            line,
            bucket,
            sum: Money(sum),
        })
        .collect();
    rows.sort_by_key(|row| (row.line, row.bucket.as_str()));
    rows
}

#[test]
fn random_event_sequences_keep_the_ledger_identities() {
    let mut rng = StdRng::seed_from_u64(0x4b41_4c41);
    for _ in 0..2_000 {
        let lines: Vec<PaidLine<usize>> = (0..rng.random_range(1..5))
            .map(|line| {
                let total = Money(rng.random_range(0..1_000_000));
                let commission = total.share_bps(rng.random_range(0..=10_000));
                let net = Money(total.0 - commission.0);
                assert_eq!(total.0, net.0 + commission.0, "line_total = net + commission");
                PaidLine {
                    line,
                    digital: rng.random_bool(0.5),
                    net,
                    commission,
                }
            })
            .collect();
        let mut status = OrderStatus::PendingPayment;
        let mut ledger: Vec<LinePosting<usize>> = Vec::new();
        let mut held = false;
        for _ in 0..rng.random_range(1..12) {
            let step = match rng.random_range(0..6) {
                0 => Step::Pay {
                    digital_credit_pending: rng.random_bool(0.5),
                },
                1 => Step::Ship(rng.random_range(0..lines.len())),
                2 => Step::Mature(rng.random_range(0..lines.len())),
                3 => Step::Hold,
                4 => Step::Release,
                _ => Step::Refund,
            };
            let before = ledger.len();
            match step {
                Step::Pay { digital_credit_pending } => {
                    let Some(next) = status.after(OrderEvent::PaymentSucceeded) else {
                        continue;
                    };
                    status = next;
                    let postings = payment_postings(&lines, digital_credit_pending);
                    for line in &lines {
                        let written: i64 = postings.iter().filter(|p| p.line == line.line).map(|p| p.amount.0).sum();
                        assert_eq!(written, line.net.0 + line.commission.0);
                    }
                    ledger.extend(postings);
                }
                Step::Ship(line) | Step::Mature(line) => {
                    if !status.is_sale() || held {
                        continue;
                    }
                    let pending = sums(&ledger).get(&(line, LedgerBucket::Pending)).copied().unwrap_or(0);
                    if pending <= 0 {
                        continue;
                    }
                    ledger.extend(release_postings(line, Money(pending)));
                }
                Step::Hold | Step::Release => {
                    let hold = matches!(step, Step::Hold);
                    if !status.is_refundable() {
                        continue;
                    }
                    let from = bucket_sums(&ledger, Some(dispute_sources(hold)));
                    ledger.extend(dispute_postings(hold, &from));
                    held = hold;
                }
                Step::Refund => {
                    let Some(next) = status.after(OrderEvent::Refunded) else { continue };
                    status = next;
                    ledger.extend(refund_postings(&bucket_sums(&ledger, None)));
                }
            }
            let written = &ledger[before..];
            assert!(written.iter().all(|p| p.amount.0 != 0), "no zero postings");
            if !matches!(step, Step::Pay { .. } | Step::Refund) {
                assert_eq!(
                    written.iter().map(|p| p.amount.0).sum::<i64>(),
                    0,
                    "{step:?} moves money, never makes it"
                );
            }
            let now = sums(&ledger);
            for line in &lines {
                let get = |bucket| now.get(&(line.line, bucket)).copied().unwrap_or(0);
                let vendor = get(LedgerBucket::Pending) + get(LedgerBucket::Available) + get(LedgerBucket::Held);
                for bucket in [
                    LedgerBucket::Pending,
                    LedgerBucket::Available,
                    LedgerBucket::Held,
                    LedgerBucket::Platform,
                ] {
                    assert!(get(bucket) >= 0, "{bucket:?} of a line never goes negative");
                }
                match status {
                    OrderStatus::Paid | OrderStatus::Completed => {
                        assert_eq!(vendor, line.net.0, "the vendor's buckets hold the net");
                        assert_eq!(get(LedgerBucket::Platform), line.commission.0, "the platform holds the commission");
                        if held {
                            assert_eq!(get(LedgerBucket::Held), line.net.0, "a dispute holds the whole net");
                        }
                    }
                    OrderStatus::Refunded => {
                        assert_eq!(vendor, 0, "a refund nets the vendor to zero");
                        assert_eq!(get(LedgerBucket::Platform), 0, "a refund nets the platform to zero");
                    }
                    _ => assert!(ledger.is_empty(), "an unpaid order has no ledger"),
                }
            }
        }
    }
}

#[test]
fn postings_are_the_ones_the_backends_wrote_before() {
    let lines = [
        PaidLine {
            line: 1,
            digital: true,
            net: Money(900),
            commission: Money(100),
        },
        PaidLine {
            line: 2,
            digital: false,
            net: Money(450),
            commission: Money(0),
        },
    ];
    let posted: Vec<_> = payment_postings(&lines, false)
        .into_iter()
        .map(|p| (p.line, p.kind, p.bucket, p.amount.0))
        .collect();
    assert_eq!(
        posted,
        [
            (1, LedgerKind::SaleCredit, LedgerBucket::Available, 900),
            (1, LedgerKind::Commission, LedgerBucket::Platform, 100),
            (2, LedgerKind::SaleCredit, LedgerBucket::Pending, 450),
        ]
    );
    assert_eq!(payment_postings(&lines, true)[0].bucket, LedgerBucket::Pending);
    let released: Vec<_> = release_postings(2, Money(450))
        .into_iter()
        .map(|p| (p.kind, p.bucket, p.amount.0))
        .collect();
    assert_eq!(
        released,
        [
            (LedgerKind::Release, LedgerBucket::Pending, -450),
            (LedgerKind::Release, LedgerBucket::Available, 450)
        ]
    );
    let refund = refund_postings(&[
        BucketSum {
            line: 1,
            bucket: LedgerBucket::Platform,
            sum: Money(100),
        },
        BucketSum {
            line: 1,
            bucket: LedgerBucket::Held,
            sum: Money(900),
        },
        BucketSum {
            line: 1,
            bucket: LedgerBucket::Pending,
            sum: Money(0),
        },
    ]);
    let refund: Vec<_> = refund.into_iter().map(|p| (p.kind, p.bucket, p.amount.0)).collect();
    assert_eq!(
        refund,
        [
            (LedgerKind::CommissionReversal, LedgerBucket::Platform, -100),
            (LedgerKind::RefundReversal, LedgerBucket::Held, -900),
        ]
    );
    let hold = dispute_postings(
        true,
        &[BucketSum {
            line: 1,
            bucket: LedgerBucket::Available,
            sum: Money(900),
        }],
    );
    let hold: Vec<_> = hold.into_iter().map(|p| (p.kind, p.bucket, p.amount.0)).collect();
    assert_eq!(
        hold,
        [
            (LedgerKind::DisputeHold, LedgerBucket::Available, -900),
            (LedgerKind::DisputeHold, LedgerBucket::Held, 900)
        ]
    );
    assert_eq!(dispute_sources(false), [LedgerBucket::Held]);
}

#[test]
fn payouts_never_exceed_the_available_balance_and_conserve_money() {
    let mut rng = StdRng::seed_from_u64(0x5041_594f);
    for _ in 0..2_000 {
        let mut available = rng.random_range(0..100_000i64);
        let (mut held, mut paid_out) = (0i64, 0i64);
        let start = available;
        let mut open: Vec<Money> = Vec::new();
        for _ in 0..rng.random_range(1..10) {
            let postings: Vec<PayoutPosting> = match rng.random_range(0..3) {
                0 => {
                    let amount = Money(rng.random_range(1..60_000));
                    match payout_hold_postings(Money(available), amount) {
                        Some(postings) => {
                            open.push(amount);
                            postings.to_vec()
                        }
                        None => {
                            assert!(amount.0 > available);
                            continue;
                        }
                    }
                }
                1 if !open.is_empty() => payout_release_postings(open.remove(0)).to_vec(),
                2 if !open.is_empty() => payout_debit_postings(open.remove(0)).to_vec(),
                _ => continue,
            };
            assert_eq!(
                postings.iter().map(|p| p.amount.0).sum::<i64>(),
                0,
                "a payout moves money, never makes it"
            );
            for p in &postings {
                match p.bucket {
                    LedgerBucket::Available => available += p.amount.0,
                    LedgerBucket::Held => held += p.amount.0,
                    LedgerBucket::PaidOut => paid_out += p.amount.0,
                    other => panic!("a payout touches {other:?}"),
                }
            }
            assert!(available >= 0 && held >= 0 && paid_out >= 0);
            assert_eq!(held, open.iter().map(|m| m.0).sum::<i64>());
            assert_eq!(available + held + paid_out, start);
        }
    }
}
