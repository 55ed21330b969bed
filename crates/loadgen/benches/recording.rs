//! The recording hot path: what every request costs the generator after its response.

use std::time::Duration;

use chaosgate_load::{ErrorKind, LatencyRecorder, RunRecorder, WeightedMix, request_id};
use criterion::{Criterion, black_box, criterion_group, criterion_main};

fn latencies() -> impl Iterator<Item = Duration> {
    // A spread from 50 µs to ~1 s so values land in many buckets.
    (0u64..).map(|i| Duration::from_micros(50 + (i * 7919) % 1_000_000))
}

fn latency_recorder(c: &mut Criterion) {
    let mut recorder = LatencyRecorder::new();
    let mut values = latencies();
    c.bench_function("LatencyRecorder::record", |b| {
        b.iter(|| recorder.record(black_box(values.next().unwrap_or_default())))
    });
}

fn run_recorder(c: &mut Criterion) {
    let mut recorder = RunRecorder::new(Duration::from_secs(1));
    let mut values = latencies();
    let mut n = 0u64;
    c.bench_function("RunRecorder::record (totals + per-second series)", |b| {
        b.iter(|| {
            n += 1;
            // 5,000 requests per second of run, one in a hundred an error.
            let result = if n.is_multiple_of(100) {
                Err(ErrorKind::Timeout)
            } else {
                Ok(200)
            };
            let latency = values.next().unwrap_or_default();
            recorder.record(black_box(n / 5_000), &result, latency, Some(latency));
        })
    });
}

fn per_request_choices(c: &mut Criterion) {
    let mut mix = WeightedMix::new(&[5, 3, 1, 1]).unwrap_or_else(|| unreachable!());
    c.bench_function("WeightedMix::next_index (4 templates)", |b| {
        b.iter(|| black_box(mix.next_index()))
    });
    let mut seq = 0u64;
    c.bench_function("request_id", |b| {
        b.iter(|| {
            seq += 1;
            black_box(request_id("run-20261123-", seq))
        })
    });
}

criterion_group!(benches, latency_recorder, run_recorder, per_request_choices);
criterion_main!(benches);
