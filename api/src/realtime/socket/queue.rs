//! One connection's outbound queue: server frames on their way to the writer task.
//!
//! Live frames are pushed without waiting; when [`limits::OUTBOUND_QUEUE`] of them are already
//! waiting the client is a slow consumer and the connection is killed. Replayed frames (resume,
//! gap fill) wait instead for room in their own window of [`limits::REPLAY_WINDOW`], so a long
//! replay goes at the client's pace and never takes the room live frames need.
//!
//! A `VecDeque` under a mutex rather than a channel: an idle connection's queue allocates
//! nothing (a channel preallocates a block of slots), and it gives back its memory after a burst.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::ws::Utf8Bytes;
use kefu_protocol::ws::{close, limits};
use tokio::sync::Notify;

use super::Kill;

/// Capacity kept after the queue empties; more is given back.
const KEEP_CAPACITY: usize = 16;

#[derive(Default)]
struct State {
    frames: VecDeque<(Utf8Bytes, bool)>,
    live: usize,
    replayed: usize,
    closed: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Wakes the writer.
    filled: Notify,
    /// Wakes replays waiting for room.
    drained: Notify,
}

/// The sending side, cloned into every forwarder of the connection.
#[derive(Clone)]
pub struct Queue {
    shared: Arc<Shared>,
    /// The connection's kill switch.
    pub kill: Kill,
}

impl Queue {
    /// An empty queue for the connection with this kill switch.
    pub fn new(kill: Kill) -> Self {
        Self { shared: Arc::default(), kill }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues a live frame, or kills the connection as a slow consumer. False when the frame was
    /// not queued.
    pub fn push(&self, text: Utf8Bytes) -> bool {
        {
            let mut state = self.state();
            if state.closed {
                return false;
            }
            if state.live >= limits::OUTBOUND_QUEUE {
                drop(state);
                self.kill.close(close::SLOW_CONSUMER);
                return false;
            }
            state.frames.push_back((text, false));
            state.live += 1;
        }
        self.shared.filled.notify_one();
        true
    }

    /// Queues a replayed frame once the replay window has room; false when the connection ends.
    pub async fn push_replayed(&self, text: Utf8Bytes) -> bool {
        loop {
            let room = self.shared.drained.notified();
            {
                let mut state = self.state();
                if state.closed || self.kill.is_closed() {
                    return false;
                }
                if state.replayed < limits::REPLAY_WINDOW {
                    state.frames.push_back((text, true));
                    state.replayed += 1;
                    drop(state);
                    self.shared.filled.notify_one();
                    return true;
                }
            }
            tokio::select! {
                _ = room => {}
                _ = self.kill.closed() => return false,
            }
        }
    }

    /// The next frame for the writer; `None` once the queue is closed and empty.
    pub async fn next(&self) -> Option<Utf8Bytes> {
        loop {
            let filled = self.shared.filled.notified();
            {
                let mut state = self.state();
                if let Some(text) = self.pop(&mut state) {
                    return Some(text);
                }
                if state.closed {
                    return None;
                }
            }
            filled.await;
        }
    }

    /// The next frame if one is waiting.
    pub fn try_next(&self) -> Option<Utf8Bytes> {
        let mut state = self.state();
        self.pop(&mut state)
    }

    fn pop(&self, state: &mut State) -> Option<Utf8Bytes> {
        let (text, replayed) = state.frames.pop_front()?;
        if replayed {
            state.replayed -= 1;
            self.shared.drained.notify_waiters();
        } else {
            state.live -= 1;
        }
        if state.frames.is_empty() && state.frames.capacity() > KEEP_CAPACITY {
            state.frames = VecDeque::new();
        }
        Some(text)
    }

    /// Stops accepting frames; the writer still takes what is queued (`drop_queued` discards it).
    pub fn close(&self, drop_queued: bool) {
        {
            let mut state = self.state();
            state.closed = true;
            if drop_queued {
                *state = State { closed: true, ..State::default() };
            }
        }
        self.shared.filled.notify_one();
        self.shared.drained.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn live_overflow_kills_and_replay_waits_for_room() {
        let queue = Queue::new(Kill::default());
        for _ in 0..limits::REPLAY_WINDOW {
            assert!(queue.push_replayed(Utf8Bytes::from_static("r")).await);
        }
        // The replay window is full: the next replayed frame waits until the writer takes one.
        let waiting = {
            let queue = queue.clone();
            tokio::spawn(async move { queue.push_replayed(Utf8Bytes::from_static("late")).await })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        // Live frames still have their own room.
        for _ in 0..limits::OUTBOUND_QUEUE {
            assert!(queue.push(Utf8Bytes::from_static("l")));
        }
        assert_eq!(queue.next().await.as_deref(), Some("r"));
        assert!(waiting.await.expect("replay task"));
        assert!(!queue.kill.is_closed());
        // One live frame too many: a slow consumer.
        assert!(!queue.push(Utf8Bytes::from_static("overflow")));
        assert!(queue.kill.is_closed());
    }

    #[tokio::test]
    async fn closing_lets_the_writer_drain_or_drop_the_rest() {
        let queue = Queue::new(Kill::default());
        assert!(queue.push(Utf8Bytes::from_static("a")));
        queue.close(false);
        assert!(!queue.push(Utf8Bytes::from_static("b")), "closed queues take nothing");
        assert_eq!(queue.next().await.as_deref(), Some("a"));
        assert_eq!(queue.next().await, None);
        let dropped = Queue::new(Kill::default());
        assert!(dropped.push(Utf8Bytes::from_static("a")));
        dropped.close(true);
        assert_eq!(dropped.try_next(), None);
    }
}
