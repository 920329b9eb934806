//! The audit log: who did what, when, why, to which object — append-only
//! events in the lake (`audit/{seq}.json`), each written with a conditional
//! create so an event is never overwritten and two people acting at once
//! never both take the same place, and each carrying the sha256 of the event
//! before it, so a removed, edited or reordered event breaks the chain that
//! [`verify`] walks.
//!
//! What the chain cannot show by itself: an edit of the newest event (no
//! later event holds its hash). Keep the head hash [`verify`] returns
//! somewhere else (a run's manifest, a meeting record) to pin it.

use bytes::Bytes;
use chrono::{SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::lake::{Created, Lake};
use crate::layout::{self, sha256_hex};
use crate::{Result, StoreError};

/// One event as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Its place in the log, from 1, the same as its key.
    pub seq: u64,
    pub at: String,
    /// The account (or `cli:{user}`) that acted.
    pub who: String,
    /// What was done, e.g. `return.approve`, `cycle.lock`.
    pub action: String,
    /// The object it concerns, e.g. a submission id, `cycle/2012`, a run id.
    pub object: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub year: Option<i32>,
    /// The dataset of a return the event concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    /// The version of a return the event concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// The part of the object, e.g. the paragraph of a draft a comment is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<String>,
    /// The reason given, or a comment's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// sha256 of the previous event's stored bytes; empty for the first.
    pub prev: String,
}

impl Event {
    /// One line for people: when, who, what, which, why.
    pub fn line(&self) -> String {
        let mut what = self.object.clone();
        if let Some(p) = &self.part {
            what.push_str(&format!(" ({p})"));
        }
        let why = self.why.as_ref().map(|w| format!(" — {w}")).unwrap_or_default();
        format!("{:>5}  {}  {:<22} {:<22} {what}{why}", self.seq, self.at, self.who, self.action)
    }
}

/// An event to append.
#[derive(Debug, Clone, Default)]
pub struct NewEvent {
    pub who: String,
    pub action: String,
    pub object: String,
    pub member: Option<String>,
    pub year: Option<i32>,
    pub dataset: Option<String>,
    pub version: Option<u32>,
    pub part: Option<String>,
    pub why: Option<String>,
}

/// The sequence numbers in the log, in order.
async fn seqs(lake: &Lake) -> Result<Vec<u64>> {
    let mut seqs: Vec<u64> = lake
        .list(layout::AUDIT)
        .await?
        .iter()
        .filter_map(|m| layout::parse_audit_event(&lake.rel(&m.location)))
        .collect();
    seqs.sort_unstable();
    Ok(seqs)
}

/// Read the events after `known` (whose last element is the newest one
/// read so far), with their stored bytes, oldest first.
async fn read_after(lake: &Lake, known: &[(Event, Bytes)]) -> Result<Vec<(Event, Bytes)>> {
    use futures::{StreamExt, TryStreamExt};
    let after = known.last().map(|(e, _)| e.seq).unwrap_or(0);
    let keys: Vec<String> = seqs(lake).await?.into_iter().filter(|&s| s > after).map(layout::audit_event).collect();
    futures::stream::iter(keys)
        .map(|key| async move {
            let bytes = lake.get(&key).await?;
            let event = serde_json::from_slice(&bytes).map_err(|source| StoreError::Json { path: key, source })?;
            Ok::<_, StoreError>((event, bytes))
        })
        .buffered(READ_AHEAD)
        .try_collect()
        .await
}

/// Events read at once (an object store answers small reads in parallel).
const READ_AHEAD: usize = 32;

/// Append an event after the newest one. When another writer takes the
/// place first, read the new head and try again: both events are kept, in
/// the order the store decided.
pub async fn append(lake: &Lake, new: NewEvent) -> Result<Event> {
    append_checked(lake, |_| Ok(new.clone())).await
}

/// Append the event `decide` makes from the log as it stands, or its
/// refusal. When another writer takes the place first, `decide` is asked
/// again with that writer's event in view: two people acting on the same
/// object at once never both win on a state that no longer holds.
pub async fn append_checked<F>(lake: &Lake, mut decide: F) -> Result<Event>
where
    F: FnMut(&[Event]) -> Result<NewEvent>,
{
    let mut known = read_after(lake, &[]).await?;
    loop {
        let events: Vec<Event> = known.iter().map(|(e, _)| e.clone()).collect();
        let new = decide(&events)?;
        let (seq, prev) = match known.last() {
            None => (1, String::new()),
            Some((e, bytes)) => (e.seq + 1, sha256_hex(bytes)),
        };
        let event = Event {
            seq,
            at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            who: new.who,
            action: new.action,
            object: new.object,
            member: new.member,
            year: new.year,
            dataset: new.dataset,
            version: new.version,
            part: new.part,
            why: new.why,
            prev,
        };
        let key = layout::audit_event(seq);
        let body = serde_json::to_vec(&event).map_err(|source| StoreError::Json { path: key.clone(), source })?;
        if matches!(lake.put_new(&key, Bytes::from(body)).await?, Created::Written) {
            return Ok(event);
        }
        let newer = read_after(lake, &known).await?;
        known.extend(newer);
    }
}

/// What earlier readers read of the log (`cache/audit.json`): events 1 to
/// n, and the sha256 of event n's stored bytes.
#[derive(Serialize, Deserialize)]
struct Cached {
    events: Vec<Event>,
    head: String,
}

/// Every event, oldest first, as stored (not checked: see [`verify`]).
/// Events never change, so what an earlier reader kept is used, and only
/// newer events are read — as long as its newest event is still in the
/// log byte for byte (a lake put back from a copy drops the cache).
pub async fn read(lake: &Lake) -> Result<Vec<Event>> {
    use futures::{StreamExt, TryStreamExt};
    let cache_key = layout::audit_cache();
    let (seqs, cached) = futures::try_join!(seqs(lake), lake.get_opt(&cache_key))?;
    let mut events = Vec::new();
    if let Some(c) = cached.and_then(|b| serde_json::from_slice::<Cached>(&b).ok())
        && let Some(last) = c.events.last()
        && c.events.len() as u64 == last.seq
        && seqs.binary_search(&last.seq).is_ok()
        && lake.get_opt(&layout::audit_event(last.seq)).await?.is_some_and(|b| sha256_hex(&b) == c.head)
    {
        events = c.events;
    }
    let after = events.last().map(|e| e.seq).unwrap_or(0);
    let newer: Vec<(Event, Bytes)> = futures::stream::iter(seqs.into_iter().filter(|&s| s > after))
        .map(|seq| async move {
            let key = layout::audit_event(seq);
            let bytes = lake.get(&key).await?;
            let event = serde_json::from_slice(&bytes).map_err(|source| StoreError::Json { path: key, source })?;
            Ok::<_, StoreError>((event, bytes))
        })
        .buffered(READ_AHEAD)
        .try_collect()
        .await?;
    if let Some((_, bytes)) = newer.last() {
        let head = sha256_hex(bytes);
        events.extend(newer.into_iter().map(|(e, _)| e));
        // only a log without gaps is kept: a reader of a broken one reads it all again
        if events.iter().enumerate().all(|(i, e)| e.seq == i as u64 + 1) {
            let c = Cached { events, head };
            let body = serde_json::to_vec(&c).map_err(|source| StoreError::Json { path: cache_key.clone(), source })?;
            // a cache that cannot be written (a read-only lake) only makes the next reader slower
            let _ = lake.put(&cache_key, Bytes::from(body)).await;
            return Ok(c.events);
        }
    }
    Ok(events)
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The chain is whole: this many events, and the newest one's sha256.
    Whole { events: u64, head: String },
    /// The first place where it is not, in words.
    Broken { at: String, why: String },
}

/// Walk the chain from the first event: numbers without a gap, each event
/// where its key says, each holding the hash of the one before.
pub async fn verify(lake: &Lake) -> Result<Verdict> {
    let seqs = seqs(lake).await?;
    let mut prev = String::new();
    for (i, &seq) in seqs.iter().enumerate() {
        let key = layout::audit_event(seq);
        let broken = |why: String| Ok(Verdict::Broken { at: key.clone(), why });
        let expected = i as u64 + 1;
        if seq != expected {
            return broken(format!("event {expected} is missing: the log jumps from {} to {seq}", expected - 1));
        }
        let bytes = lake.get(&key).await?;
        let event: Event = match serde_json::from_slice(&bytes) {
            Ok(e) => e,
            Err(e) => return broken(format!("not an event ({e})")),
        };
        if event.seq != seq {
            return broken(format!("the event says it is number {}, but is stored as {seq}: moved", event.seq));
        }
        if event.prev != prev {
            return broken(format!(
                "it names the event before it as sha256 {}, but that event is now {}: the earlier event was edited, or this one moved",
                short(&event.prev),
                short(&prev)
            ));
        }
        prev = sha256_hex(&bytes);
    }
    Ok(Verdict::Whole { events: seqs.len() as u64, head: prev })
}

fn short(hash: &str) -> &str {
    if hash.is_empty() { "(none)" } else { &hash[..hash.len().min(12)] }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(i: usize) -> NewEvent {
        NewEvent {
            who: format!("user{}", i % 3),
            action: "return.approve".into(),
            object: format!("s-{i}"),
            member: Some("AUS".into()),
            year: Some(2012),
            why: i.is_multiple_of(2).then(|| "checked against last year's figures".into()),
            ..NewEvent::default()
        }
    }

    async fn log(n: usize) -> (tempfile::TempDir, Lake) {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(&dir.path().to_string_lossy()).unwrap();
        for i in 0..n {
            append(&lake, event(i)).await.unwrap();
        }
        (dir, lake)
    }

    fn file(dir: &tempfile::TempDir, seq: u64) -> std::path::PathBuf {
        dir.path().join(layout::audit_event(seq))
    }

    #[tokio::test]
    async fn a_whole_log_verifies_and_reads_back_in_order() {
        let (_dir, lake) = log(5).await;
        let events = read(&lake).await.unwrap();
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
        assert_eq!(events[2].object, "s-2");
        assert_eq!(events[0].prev, "");
        match verify(&lake).await.unwrap() {
            Verdict::Whole { events, head } => assert_eq!((events, head.len()), (5, 64)),
            broken => panic!("{broken:?}"),
        }
    }

    #[tokio::test]
    async fn readers_keep_what_they_read_and_read_only_newer_events() {
        let (dir, lake) = log(3).await;
        let first = read(&lake).await.unwrap();
        assert!(dir.path().join(layout::audit_cache()).exists(), "the first reader keeps the log");
        append(&lake, event(3)).await.unwrap();
        // an older event changed on disk is not read again: the reader gets the events as they were
        let text = std::fs::read_to_string(file(&dir, 2)).unwrap().replace("\"user1\"", "\"user9\"");
        std::fs::write(file(&dir, 2), text).unwrap();
        let second = read(&lake).await.unwrap();
        assert_eq!(second.len(), 4);
        assert_eq!(second[..3], first[..]);
        assert!(matches!(verify(&lake).await.unwrap(), Verdict::Broken { .. }), "verify reads the log itself");
        // the newest kept event changed (a lake put back from another copy): everything is read again
        let text = std::fs::read_to_string(file(&dir, 4)).unwrap().replace("\"s-3\"", "\"s-X\"");
        std::fs::write(file(&dir, 4), text).unwrap();
        let third = read(&lake).await.unwrap();
        assert_eq!((third[1].who.as_str(), third[3].object.as_str()), ("user9", "s-X"));
        // and a log without its cache reads the same
        std::fs::remove_file(dir.path().join(layout::audit_cache())).unwrap();
        assert_eq!(read(&lake).await.unwrap(), third);
    }

    #[tokio::test]
    async fn a_deleted_an_edited_and_a_reordered_event_are_found() {
        // deleted
        let (dir, lake) = log(5).await;
        std::fs::remove_file(file(&dir, 3)).unwrap();
        let Verdict::Broken { at, why } = verify(&lake).await.unwrap() else { panic!("a deletion passed") };
        assert!(at.ends_with("000000000004.json") && why.contains("event 3 is missing"), "{at}: {why}");
        // edited: a reason rewritten after the fact
        let (dir, lake) = log(5).await;
        let text = std::fs::read_to_string(file(&dir, 2)).unwrap().replace("\"user1\"", "\"user2\"");
        std::fs::write(file(&dir, 2), text).unwrap();
        let Verdict::Broken { at, why } = verify(&lake).await.unwrap() else { panic!("an edit passed") };
        assert!(at.ends_with("000000000003.json") && why.contains("edited"), "{at}: {why}");
        // reordered: two events swapped
        let (dir, lake) = log(5).await;
        let (a, b) = (std::fs::read(file(&dir, 2)).unwrap(), std::fs::read(file(&dir, 4)).unwrap());
        std::fs::write(file(&dir, 2), b).unwrap();
        std::fs::write(file(&dir, 4), a).unwrap();
        let Verdict::Broken { at, why } = verify(&lake).await.unwrap() else { panic!("a reordering passed") };
        assert!(at.ends_with("000000000002.json") && why.contains("moved"), "{at}: {why}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn writers_at_once_never_take_the_same_place() {
        let (_dir, lake) = log(0).await;
        let tasks: Vec<_> = (0..24)
            .map(|i| {
                let lake = lake.clone();
                tokio::spawn(async move { append(&lake, event(i)).await.unwrap().seq })
            })
            .collect();
        let mut seqs = Vec::new();
        for t in tasks {
            seqs.push(t.await.unwrap());
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=24).collect::<Vec<u64>>(), "every writer got its own place");
        let events = read(&lake).await.unwrap();
        let mut objects: Vec<_> = events.iter().map(|e| e.object.clone()).collect();
        objects.sort();
        objects.dedup();
        assert_eq!(objects.len(), 24, "no event was lost");
        assert!(matches!(verify(&lake).await.unwrap(), Verdict::Whole { events: 24, .. }));
    }
}
