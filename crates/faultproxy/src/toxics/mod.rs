//! The toxics, one file each: a toxic's parameters, what it does at each stage of a chunk's
//! way and to the connection, its validation and its tests. The list in [`toxics!`] below is
//! the only one: the public [`ToxicKind`] (what the harness builds and its JSON reports
//! carry), the toxics' names and the dispatch to their [`Kind`] are generated from it.
//!
//! A chunk goes through the stages in one order, whatever order the toxics were added in;
//! within a stage the toxics act in the order they were installed (`pump.rs` runs the
//! stages):
//!
//! 1. [`Kind::swallow`] takes bytes out of the stream (`timeout`: all of them);
//! 2. [`Kind::limit`] truncates what is left and may ask to close after it (`limit_data`);
//! 3. [`Kind::delay`] holds the chunk until `arrival + delay` (`latency`; the pump pipelines);
//! 4. [`Kind::slice`] cuts it into pieces sent apart (`slicer`);
//! 5. [`Kind::rate`] paces the writes of each piece (`bandwidth`; the pump keeps the schedule).
//!
//! Besides, [`Kind::closes_after`] and [`Kind::close`] end the whole connection at a point in
//! time (`reset_peer`, `timeout`): the connection's supervisor in `conn.rs` runs them.
//!
//! The L7 toxics (`http_abort`, `http_delay`) follow a stream's requests (`http.rs`): they
//! act at the swallow stage, may answer the client themselves ([`Cx::reply`]) and hold an
//! incomplete request head until it is whole; when one is removed mid-request the pump
//! keeps asking it to [`Kind::retire`] until the request it holds has passed, so a revert
//! never cuts a request in two.
//!
//! Adding a toxic is a file here (its parameter struct with the same fields as its line, and
//! `impl Kind`, with its tests) and a line in the list.

use std::any::Any;
use std::collections::HashMap;
use std::fmt::Debug;
use std::time::Duration;

use bytes::Bytes;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::conn_state::{ActiveToxic, ConnShared};
use crate::counters::ToxicStats;
use crate::toxic::{Direction, Flow};

/// What a toxic does, one hook per stage of a chunk's way and for the connection as a whole.
/// Every hook has a default that does nothing, so a toxic implements only the stages it acts
/// at; hooks count what they did in the toxic's own counters (`cx.stats`).
pub(crate) trait Kind: Debug + Send + Sync {
    /// Why the parameters are refused, if they are (the registry refuses the toxic).
    fn check(&self) -> Result<(), &'static str> {
        Ok(())
    }

    /// The per-connection toxicity draw picked this connection (once per connection).
    fn selected(&self, _stats: &ToxicStats) {}

    /// Stage 1: takes the bytes it keeps from the stream out of `data`. When nothing is
    /// left, the chunk is gone: no later toxic sees it. This is where an L7 toxic sees the
    /// stream's bytes first (with its own per-stream state to reassemble a request head
    /// across chunks, see [`Cx::state`]).
    fn swallow(&self, _cx: &mut Cx<'_>, _data: &mut Bytes) {}

    /// Stage 2: truncates `data` to what the toxic still lets through; `true` asks to close
    /// the connection once what is left of the chunk has been written.
    fn limit(&self, _cx: &mut Cx<'_>, _data: &mut Bytes) -> bool {
        false
    }

    /// Stage 3: how long after its arrival the chunk may leave (the delays of all toxics
    /// add up). Asked again, with `counted` `None`, when the toxics change while the chunk
    /// waits: count the chunk (`counted` bytes) only when it is given.
    fn delay(&self, _cx: &mut Cx<'_>, _counted: Option<usize>) -> Duration {
        Duration::ZERO
    }

    /// Stage 4: cuts the pieces further; returns the pause it adds between two pieces.
    fn slice(&self, _cx: &mut Cx<'_>, _pieces: &mut Vec<Bytes>) -> Duration {
        Duration::ZERO
    }

    /// Stage 5: the rate, in bytes per second, the writes are paced to. The tightest toxic
    /// applying at each paced write wins; the pump counts each paced write as a delayed
    /// chunk and its bytes as affected in that toxic's counters.
    fn rate(&self) -> Option<u64> {
        None
    }

    /// How long after it started applying to a connection (`max(connection start, toxic
    /// added)`) the toxic ends the connection, if it does; the earliest deadline wins.
    fn closes_after(&self) -> Option<Duration> {
        None
    }

    /// Ends the connection at its deadline (the supervisor then closes every socket).
    fn close(&self, _cx: &Closing<'_>) {}

    /// Whether the toxic counts requests (an L7 toxic): its proof is then a request acted
    /// on, not a connection selected ([`crate::ToxicCounters::touched_traffic`]).
    fn counts_requests(&self) -> bool {
        false
    }

    /// The toxic no longer applies to this stream (removed) but saw it before: it passes on
    /// `data` while finishing what it holds (an incomplete request head, the rest of a
    /// dropped request), acting on nothing new. `true` once it holds nothing more, and is
    /// then no longer asked.
    fn retire(&self, _cx: &mut Cx<'_>, _data: &mut Bytes) -> bool {
        true
    }

    /// The stream ended (its reader saw end of file): the bytes the toxic still holds, to
    /// be written before the FIN.
    fn flush(&self, _cx: &mut Cx<'_>) -> Bytes {
        Bytes::new()
    }
}

/// What a chunk's hooks ask the pump to do besides forwarding it.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    /// Bytes for the other end of the connection (an L7 toxic's own answer to the client),
    /// written before the chunk goes on.
    pub replies: Vec<Bytes>,
    /// Reset the connection (both sockets close with RST).
    pub reset: bool,
}

/// What a chunk-stage hook sees: the stream, the toxic as installed, the stream's random
/// generator and the toxic's state on this stream.
pub(crate) struct Cx<'a> {
    /// The stream the chunk travels.
    pub flow: Flow,
    /// The direction the toxic was installed for.
    pub direction: Direction,
    /// The toxic's counters.
    pub stats: &'a ToxicStats,
    /// The stream's generator: every draw of every toxic on this stream comes from it, in
    /// stage order, so a seeded run replays.
    pub rng: &'a mut ChaCha8Rng,
    /// Bytes the connection has written toward its client so far (its responses' progress).
    pub downstream: u64,
    id: u64,
    states: &'a mut HashMap<u64, Box<dyn Any + Send>>,
    effects: &'a mut Effects,
}

impl Cx<'_> {
    /// Sends `bytes` back the way the chunk came (to the client, for a request stream).
    pub fn reply(&mut self, bytes: Bytes) {
        self.effects.replies.push(bytes);
    }

    /// Resets the connection once the chunk's hooks have run.
    pub fn reset(&mut self) {
        self.effects.reset = true;
    }

    /// The toxic's own state on this stream (bytes let through, a half-read request head...),
    /// made with `Default` the first time it is asked for.
    pub fn state<S: Default + Send + 'static>(&mut self) -> &mut S {
        let slot = self
            .states
            .entry(self.id)
            .or_insert_with(|| Box::new(S::default()));
        if !slot.is::<S>() {
            *slot = Box::new(S::default());
        }
        slot.downcast_mut::<S>()
            .expect("the slot holds an S: it was just checked or replaced")
    }
}

/// What the toxics keep per stream of a connection.
pub(crate) struct StreamToxics {
    flow: Flow,
    rng: ChaCha8Rng,
    states: HashMap<u64, Box<dyn Any + Send>>,
    /// The connection's server → client byte count, as of the chunk being handled.
    pub downstream: u64,
    effects: Effects,
}

impl StreamToxics {
    pub fn new(flow: Flow, rng: ChaCha8Rng) -> Self {
        StreamToxics {
            flow,
            rng,
            states: HashMap::new(),
            downstream: 0,
            effects: Effects::default(),
        }
    }

    /// The context for `toxic`'s hooks on this stream.
    pub fn cx<'a>(&'a mut self, toxic: &'a ActiveToxic) -> Cx<'a> {
        Cx {
            flow: self.flow,
            direction: toxic.installed.toxic.direction,
            stats: &toxic.installed.stats,
            rng: &mut self.rng,
            downstream: self.downstream,
            id: toxic.installed.id,
            states: &mut self.states,
            effects: &mut self.effects,
        }
    }

    /// What the hooks asked for since the last call.
    pub fn take_effects(&mut self) -> Effects {
        std::mem::take(&mut self.effects)
    }

    /// Forgets a toxic's state on this stream (it retired).
    pub fn forget(&mut self, toxic: &ActiveToxic) {
        self.states.remove(&toxic.installed.id);
    }
}

/// What [`Kind::close`] acts on.
pub(crate) struct Closing<'a> {
    /// The connection (its sockets).
    pub conn: &'a ConnShared,
    /// The direction the toxic was installed for.
    pub direction: Direction,
    /// The toxic's counters.
    pub stats: &'a ToxicStats,
    /// The toxic's name, for the log.
    pub name: &'a str,
}

/// The list: `module::Type { fields }`, one line per toxic; the fields are the type's, and
/// the public enum's variant of the same name. The serde name and [`ToxicKind::type_name`]
/// are the module's name (a test checks it is the variant's snake case).
macro_rules! toxics {
    ($($module:ident :: $ty:ident { $($field:ident : $field_ty:ty),* $(,)? }),+ $(,)?) => {
        $(mod $module;)+
        $(pub use $module::$ty;)+

        /// What a toxic does to the bytes (or the connection) it applies to: one variant per
        /// toxic, each documented with its parameter type.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        pub enum ToxicKind {
            $(
                #[doc = concat!("`", stringify!($module), "`: see [`", stringify!($ty), "`].")]
                $ty {
                    $(
                        #[doc = concat!("See [`", stringify!($ty), "::", stringify!($field), "`].")]
                        $field: $field_ty,
                    )*
                },
            )+
        }

        impl ToxicKind {
            /// A short stable name for reports and counters.
            pub fn type_name(&self) -> &'static str {
                match self {
                    $(Self::$ty { .. } => stringify!($module),)+
                }
            }

            /// The toxic's behaviour, as the registry installs it.
            pub(crate) fn behaviour(&self) -> Box<dyn Kind> {
                match self.clone() {
                    $(Self::$ty { $($field),* } => Box::new($ty { $($field),* }),)+
                }
            }

            /// One toxic of each kind, every field at its default.
            #[cfg(test)]
            fn each_with_defaults() -> Vec<ToxicKind> {
                vec![$(Self::$ty { $($field: Default::default()),* }),+]
            }
        }
    };
}

toxics! {
    latency::Latency { latency: Duration, jitter: Duration },
    bandwidth::Bandwidth { bytes_per_sec: u64 },
    reset_peer::ResetPeer { after: Duration },
    timeout::Timeout { after: Option<Duration> },
    slicer::Slicer { avg_size: usize, size_variation: usize, delay: Duration },
    limit_data::LimitData { bytes: u64 },
    http_abort::HttpAbort { matcher: HttpMatch, probability: f64, status: Option<u16> },
    http_delay::HttpDelay { matcher: HttpMatch, probability: f64, delay: Duration },
}

mod http;
pub use http::{HeaderMatch, HttpMatch, PathGlob, PathMatch};

/// One stream's toxic context without a connection, for the toxics' unit tests.
#[cfg(test)]
pub(crate) struct TestStream {
    pub flow: Flow,
    pub direction: Direction,
    pub stats: ToxicStats,
    pub downstream: u64,
    pub effects: Effects,
    rng: ChaCha8Rng,
    states: HashMap<u64, Box<dyn Any + Send>>,
}

#[cfg(test)]
impl TestStream {
    pub fn new(flow: Flow, direction: Direction) -> Self {
        use rand::SeedableRng;
        TestStream {
            flow,
            direction,
            stats: ToxicStats::default(),
            downstream: 0,
            effects: Effects::default(),
            rng: ChaCha8Rng::seed_from_u64(1),
            states: HashMap::new(),
        }
    }

    /// The context of toxic number `id` on this stream.
    pub fn cx(&mut self, id: u64) -> Cx<'_> {
        Cx {
            flow: self.flow,
            direction: self.direction,
            stats: &self.stats,
            rng: &mut self.rng,
            downstream: self.downstream,
            id,
            states: &mut self.states,
            effects: &mut self.effects,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reports and the harness's JSON name a toxic by its serde tag; counters by its
    /// `type_name`: they must be one name.
    #[test]
    fn the_serde_tag_is_the_type_name() {
        for kind in ToxicKind::each_with_defaults() {
            let json = serde_json::to_value(&kind).expect("serialises");
            assert_eq!(json["type"], kind.type_name(), "{json}");
            let back: ToxicKind = serde_json::from_value(json).expect("deserialises");
            assert_eq!(back, kind);
        }
    }

    #[test]
    fn a_state_is_kept_per_toxic_and_made_on_first_use() {
        let mut stream = TestStream::new(Flow::Upstream, Direction::Both);
        *stream.cx(1).state::<u64>() += 5;
        *stream.cx(1).state::<u64>() += 2;
        assert_eq!(*stream.cx(2).state::<u64>(), 0);
        assert_eq!(*stream.cx(1).state::<u64>(), 7);
    }
}
