//! A timeline for fault tests that run in paused time.

use std::path::PathBuf;

use crate::timeline::{Event, EventLog, EventSink, RunClock, read_events};

/// An `events.jsonl` in a temporary directory. Its run clock is the test's: in paused time
/// every stage's time is exact (the writer is a thread of its own, which does not hold paused
/// time back).
pub struct TestLog {
    log: EventLog,
    dir: PathBuf,
}

impl TestLog {
    /// The log and its first sink, on a run clock starting now.
    pub fn start() -> (Self, EventSink) {
        let dir = std::env::temp_dir().join(format!(
            "cg-fault-test-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let (log, sink) = EventLog::create(&dir.join("events.jsonl"), RunClock::start()).unwrap();
        (Self { log, dir }, sink)
    }

    /// Every event recorded, once every sink has been dropped.
    pub async fn events(self) -> Vec<Event> {
        let path = self.log.path().to_path_buf();
        self.log.finish().await.unwrap();
        let events = read_events(&path).unwrap().map(|e| e.unwrap()).collect();
        std::fs::remove_dir_all(&self.dir).unwrap();
        events
    }
}
