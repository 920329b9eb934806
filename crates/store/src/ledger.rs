//! The intake ledger: what intake has taken in, so that a run need not list
//! the lake to find out.
//!
//! Intake appends one entry (`ledger/{thousand}/{seq}.json`) for every
//! submission it decides — the receipt as a run records it and, when the
//! return was accepted, the version it became — after the version and the
//! receipt exist and before the inbox object is removed, so a crash in
//! between leaves the file in the inbox and the next intake records it
//! again. Each entry is written with a conditional create, as the audit log
//! is: two intakes never take the same place, and a number is taken only
//! after the one before it exists, so the ledger has no gaps.
//!
//! Reading it folds the entries into a [`State`]: every accepted version,
//! every filed receipt and every withdrawal. A reader keeps the state it
//! folded in `cache/ledger.json` with the number of the last entry in it,
//! and afterwards lists only the folder of that entry and those after it
//! and reads only the newer entries — a rerun after one correction reads one
//! entry, where listing `accepted/` and `receipts/` touches every object.
//!
//! A lake from before the ledger has versions and receipts it does not
//! hold: until the first entry is written, readers list the lake as they
//! always did, and the first entry intake writes is made from that listing
//! (marked `listed`), so nothing accepted earlier is left out.
//!
//! Accepted versions are never deleted. A member whose returns must no
//! longer count is withdrawn with [`withdraw_member`]: an entry, and an
//! event in the audit log; its versions stay in the lake, and a return it
//! sends later counts again.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::audit::{self, NewEvent};
use crate::error::{Result, StoreError};
use crate::lake::{Created, Lake};
use crate::layout::{self, VersionInfo};
use crate::receipt::{self, Filed};

/// An accepted version an entry makes known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stored {
    pub key: String,
    pub size: u64,
    /// sha256 of the version as stored (entries written before fedreport
    /// recorded it have none: a run reads those versions whole to pin them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// The returns of a slot that no longer count: every version up to `through`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withdrawal {
    pub dataset: String,
    pub year: i32,
    pub member: String,
    pub through: u32,
}

/// One entry as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Its place in the ledger, from 1, the same as its key.
    pub seq: u64,
    pub at: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepted: Vec<Stored>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filed: Vec<Filed>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withdrawn: Vec<Withdrawal>,
    /// Made from a listing of the lake: the first entry of a lake that had
    /// versions and receipts before it had a ledger.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub listed: bool,
}

/// Everything the ledger says, folded: the same whatever order entries are
/// folded in (a version counts unless a withdrawal covers it; a receipt is
/// known by its key).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// The last entry folded in.
    pub through: u64,
    /// Every accepted version: key → size.
    versions: BTreeMap<String, u64>,
    /// The sha256 intake recorded of the versions it stored: key → sha256.
    #[serde(default)]
    sha256: BTreeMap<String, String>,
    /// `dataset/year/member` → the last version withdrawn.
    withdrawn: BTreeMap<String, u32>,
    /// Receipt key → what a run records of it.
    filed: BTreeMap<String, Filed>,
    /// sha256 of entry `through` as stored: a kept state is used only while
    /// that entry is still there byte for byte.
    #[serde(default)]
    head: String,
}

fn slot_name(dataset: &str, year: i32, member: &str) -> String {
    format!("{dataset}/{year}/{member}")
}

impl State {
    fn fold(&mut self, e: Entry) -> usize {
        self.through = self.through.max(e.seq);
        for s in e.accepted {
            if let Some(sha) = s.sha256 {
                self.sha256.insert(s.key.clone(), sha);
            }
            self.versions.insert(s.key, s.size);
        }
        for w in e.withdrawn {
            let through = self.withdrawn.entry(slot_name(&w.dataset, w.year, &w.member)).or_default();
            *through = (*through).max(w.through);
        }
        let n = e.filed.len();
        for f in e.filed {
            self.filed.insert(layout::receipt_key(&f.member, &f.submission_id), f);
        }
        n
    }

    /// The newest version of every slot that is not withdrawn, in
    /// (dataset, year, member) order; years after `up_to` are left out.
    pub fn current(&self, up_to: Option<i32>) -> Vec<VersionInfo> {
        let mut current: BTreeMap<(String, i32, String), VersionInfo> = BTreeMap::new();
        for (key, size) in &self.versions {
            let Some(mut v) = VersionInfo::from_key(key, *size) else { continue };
            v.sha256 = self.sha256.get(key).cloned();
            if up_to.is_some_and(|y| v.year > y)
                || self.withdrawn.get(&slot_name(&v.dataset, v.year, &v.member)).is_some_and(|&w| v.version <= w)
            {
                continue;
            }
            let slot = (v.dataset.clone(), v.year, v.member.clone());
            if current.get(&slot).is_none_or(|c| c.version < v.version) {
                current.insert(slot, v);
            }
        }
        current.into_values().collect()
    }

    /// The (member, dataset) slots of a year withdrawn with nothing accepted since.
    pub fn withdrawn_in(&self, year: i32) -> std::collections::BTreeSet<(String, String)> {
        let current: std::collections::BTreeSet<(String, String)> =
            self.current(Some(year)).into_iter().filter(|v| v.year == year).map(|v| (v.member, v.dataset)).collect();
        self.withdrawn
            .keys()
            .filter_map(|slot| {
                let [dataset, y, member] = slot.split('/').collect::<Vec<_>>()[..] else { return None };
                let k = (member.to_string(), dataset.to_string());
                (y.parse() == Ok(year) && !current.contains(&k)).then_some(k)
            })
            .collect()
    }

    /// Every filed receipt, oldest submission first (the order of [`receipt::list`]).
    pub fn filed(&self) -> Vec<Filed> {
        let mut out: Vec<Filed> = self.filed.values().cloned().collect();
        out.sort_by(|a, b| (&a.received_at, &a.submission_id).cmp(&(&b.received_at, &b.submission_id)));
        out
    }
}

/// What [`read`] found.
#[derive(Debug, Clone)]
pub struct Read {
    pub state: State,
    /// Entries read from the lake (the others came from the cache).
    pub entries_read: usize,
    /// Receipts those entries held, and receipts the cache held.
    pub filed_read: usize,
    pub filed_cached: usize,
}

/// Entries read at once (an object store answers small reads in parallel).
const READ_AHEAD: usize = 32;

/// The numbers of the ledger's folders, in order.
async fn shards(lake: &Lake) -> Result<Vec<u64>> {
    let mut out: Vec<u64> =
        lake.folders(layout::LEDGER).await?.iter().filter_map(|f| layout::parse_ledger_shard(f)).collect();
    out.sort_unstable();
    Ok(out)
}

/// The entry numbers in the given folders, in order.
async fn seqs_in(lake: &Lake, shards: &[u64]) -> Result<Vec<u64>> {
    let listed = futures::future::try_join_all(shards.iter().map(|&s| async move {
        let folder = layout::ledger_shard(s);
        lake.list(&folder).await
    }))
    .await?;
    let mut out: Vec<u64> =
        listed.iter().flatten().filter_map(|m| layout::parse_ledger_entry(&lake.rel(&m.location))).collect();
    out.sort_unstable();
    Ok(out)
}

/// The newest entry's number, 0 for an empty ledger.
async fn head(lake: &Lake) -> Result<u64> {
    for &s in shards(lake).await?.iter().rev() {
        if let Some(&last) = seqs_in(lake, &[s]).await?.last() {
            return Ok(last);
        }
    }
    Ok(0)
}

fn parse_entry(key: &str, bytes: &[u8], seq: u64) -> Result<Entry> {
    let e: Entry =
        serde_json::from_slice(bytes).map_err(|source| StoreError::Json { path: key.to_string(), source })?;
    if e.seq != seq {
        return Err(StoreError::Invalid(format!(
            "{key}: the ledger entry says it is number {}, but is stored as {seq}; restore the ledger from a copy",
            e.seq
        )));
    }
    Ok(e)
}

/// Fold the ledger; `None` when it has no entry yet (a lake from before it,
/// or a new one): then the lake itself must be listed. With `read_cache`,
/// start from the state an earlier reader kept and read only newer
/// entries; with `write_cache`, keep the state reached for the next reader.
pub async fn read(lake: &Lake, read_cache: bool, write_cache: bool) -> Result<Option<Read>> {
    use futures::{StreamExt, TryStreamExt};
    let cache_key = layout::ledger_cache();
    // an unreadable cache is only slower: every entry is read again
    let mut state: State = match read_cache {
        true => lake.get_opt(&cache_key).await?.and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default(),
        false => State::default(),
    };
    let all_shards = shards(lake).await?;
    if all_shards.is_empty() {
        return Ok(None);
    }
    // a cache of entries the ledger no longer has (a lake put back from a copy) is dropped
    if state.through > 0
        && lake
            .get_opt(&layout::ledger_entry(state.through))
            .await?
            .is_none_or(|b| layout::sha256_hex(&b) != state.head)
    {
        state = State::default();
    }
    let first = (state.through + 1) / layout::LEDGER_SHARD;
    let wanted: Vec<u64> = all_shards.into_iter().filter(|&s| s >= first).collect();
    let seqs: Vec<u64> = seqs_in(lake, &wanted).await?.into_iter().filter(|&s| s > state.through).collect();
    for (i, &seq) in seqs.iter().enumerate() {
        let expected = state.through + 1 + i as u64;
        if seq != expected {
            return Err(StoreError::Invalid(format!(
                "the intake ledger jumps from entry {} to {seq}: {} was removed; restore it from a copy of the lake",
                expected - 1,
                layout::ledger_entry(expected)
            )));
        }
    }
    let filed_cached = state.filed.len();
    let entries: Vec<(Entry, String)> = futures::stream::iter(seqs.iter().copied())
        .map(|seq| async move {
            let key = layout::ledger_entry(seq);
            let bytes = lake.get(&key).await?;
            Ok::<_, StoreError>((parse_entry(&key, &bytes, seq)?, layout::sha256_hex(&bytes)))
        })
        .buffered(READ_AHEAD)
        .try_collect()
        .await?;
    let entries_read = entries.len();
    let mut filed_read = 0;
    for (e, sha) in entries {
        filed_read += state.fold(e);
        state.head = sha;
    }
    if write_cache && entries_read > 0 {
        let body = serde_json::to_vec(&state).map_err(|source| StoreError::Json { path: cache_key.clone(), source })?;
        // a cache that cannot be written (a read-only lake) only makes the next reader slower
        let _ = lake.put(&cache_key, Bytes::from(body)).await;
    }
    Ok(Some(Read { state, entries_read, filed_read, filed_cached }))
}

/// An entry made from a listing of the lake: every version and every receipt in it.
async fn listed(lake: &Lake) -> Result<Entry> {
    let accepted = lake
        .list_wide(layout::ACCEPTED)
        .await?
        .into_iter()
        .filter_map(|m| {
            let key = lake.rel(&m.location);
            VersionInfo::from_key(&key, m.size).map(|_| Stored { key, size: m.size, sha256: None })
        })
        .collect();
    let filed = receipt::list(lake, None).await?.into_iter().map(Filed::from).collect();
    Ok(Entry { accepted, filed, listed: true, ..Entry::default() })
}

/// Append an entry after the newest one and return its number. `hint` is
/// the number this writer last took (0 when it does not know): the next
/// place is tried first, and the ledger listed only when another writer
/// took it. The first entry of a ledger is made from a listing of the lake
/// as well, so the versions and receipts from before the ledger are in it.
pub async fn append(lake: &Lake, entry: Entry, hint: &mut u64) -> Result<u64> {
    loop {
        let seq = if *hint > 0 { *hint + 1 } else { head(lake).await? + 1 };
        let mut e = if seq == 1 {
            let mut l = listed(lake).await?;
            l.accepted.extend(entry.accepted.iter().cloned());
            l.filed.extend(entry.filed.iter().cloned());
            l.withdrawn.extend(entry.withdrawn.iter().cloned());
            l
        } else {
            entry.clone()
        };
        e.seq = seq;
        e.at = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
        let key = layout::ledger_entry(seq);
        let body = serde_json::to_vec(&e).map_err(|source| StoreError::Json { path: key.clone(), source })?;
        if lake.put_new(&key, Bytes::from(body)).await? == Created::Written {
            *hint = seq;
            return Ok(seq);
        }
        *hint = 0; // another writer took it: find the head again
    }
}

/// Whether an accepted version was withdrawn (intake then takes the same
/// bytes again as a new version, which counts, instead of as a duplicate).
pub async fn is_withdrawn(lake: &Lake, v: &VersionInfo) -> Result<bool> {
    Ok(read(lake, true, false).await?.is_some_and(|r| {
        r.state.withdrawn.get(&slot_name(&v.dataset, v.year, &v.member)).is_some_and(|&w| v.version <= w)
    }))
}

/// What intake has decided, as a run and the board see it.
#[derive(Debug, Clone, Default)]
pub struct Decided {
    /// The current version of every slot of the years asked for.
    pub versions: Vec<VersionInfo>,
    /// The ledger's state, when it has an entry (withdrawals, receipts).
    pub state: Option<State>,
    /// Receipts: every one, and how many were read and came from a cache
    /// (when asked for).
    pub receipts: Option<(Vec<Filed>, usize, usize)>,
}

impl Decided {
    /// (member, dataset) of the slots of `year` withdrawn and not sent again since.
    pub fn withdrawn_in(&self, year: i32) -> std::collections::BTreeSet<(String, String)> {
        self.state.as_ref().map(|s| s.withdrawn_in(year)).unwrap_or_default()
    }
}

/// What intake has decided up to year `up_to`: from the ledger (only its
/// new entries when `cached`), or, for a lake whose ledger has no entry yet,
/// from listing `accepted/` (and `receipts/`, when `receipts` are asked for).
pub async fn decided(lake: &Lake, up_to: Option<i32>, cached: bool, receipts: bool) -> Result<Decided> {
    match read(lake, cached, true).await? {
        Some(r) => Ok(Decided {
            versions: r.state.current(up_to),
            receipts: receipts.then(|| (r.state.filed(), r.filed_read, r.filed_cached)),
            state: Some(r.state),
        }),
        None if receipts => {
            let (versions, filed) =
                futures::try_join!(crate::status::listed_versions(lake, up_to), receipt::list_cached(lake))?;
            Ok(Decided { versions, state: None, receipts: Some(filed) })
        }
        None => Ok(Decided { versions: crate::status::listed_versions(lake, up_to).await?, ..Decided::default() }),
    }
}

/// The current version of every slot (see [`decided`]).
pub async fn current_versions(lake: &Lake, up_to: Option<i32>) -> Result<Vec<VersionInfo>> {
    Ok(decided(lake, up_to, true, false).await?.versions)
}

/// What [`withdraw_member`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawn {
    /// The returns that no longer count.
    pub slots: Vec<Withdrawal>,
    /// Years whose returns were left as they are, because their cycle is
    /// locked (its figures agreed): the year and who locked it, when, why.
    pub locked: Vec<(i32, String)>,
}

/// Withdraw a member: none of its accepted returns counts in a run from
/// now on (they stay in the lake, and a return it sends later counts),
/// except in cycles that are locked, whose agreed figures stay until the
/// cycle is unlocked. The audit log records who did it and why, before the
/// withdrawal takes effect.
pub async fn withdraw_member(lake: &Lake, who: &str, member: &str, why: &str) -> Result<Withdrawn> {
    let why = crate::cycle::reason(Some(why), "withdrawing a member's returns")?;
    let current: Vec<Withdrawal> = current_versions(lake, None)
        .await?
        .into_iter()
        .filter(|v| v.member == member)
        .map(|v| Withdrawal { dataset: v.dataset, year: v.year, member: v.member, through: v.version })
        .collect();
    if current.is_empty() {
        return Err(StoreError::Refused(format!("{member} has no accepted return that counts: nothing to withdraw")));
    }
    let events = audit::read(lake).await?;
    let now = Utc::now();
    let mut years: Vec<i32> = current.iter().map(|w| w.year).collect();
    years.sort_unstable();
    years.dedup();
    let locked: Vec<(i32, String)> = years
        .into_iter()
        .filter_map(|y| crate::cycle::cycle(&events, y, None, now).locked.map(|s| (y, s.words())))
        .collect();
    let slots: Vec<Withdrawal> = current.into_iter().filter(|w| !locked.iter().any(|(y, _)| *y == w.year)).collect();
    if slots.is_empty() {
        let years: Vec<String> = locked.iter().map(|(y, s)| format!("{y} (locked by {s})")).collect();
        return Err(StoreError::Refused(format!(
            "every cycle with a return of {member} is locked: {}; unlock a cycle to withdraw its returns",
            years.join(", ")
        )));
    }
    audit::append(
        lake,
        NewEvent {
            who: who.to_string(),
            action: crate::cycle::action::MEMBER_WITHDRAW.to_string(),
            object: format!("member/{member}"),
            member: Some(member.to_string()),
            why: Some(why),
            ..NewEvent::default()
        },
    )
    .await?;
    append(lake, Entry { withdrawn: slots.clone(), ..Entry::default() }, &mut 0).await?;
    Ok(Withdrawn { slots, locked })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receipt::Status;

    fn lake() -> (tempfile::TempDir, Lake) {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
        (dir, lake)
    }

    fn accepted(member: &str, year: i32, v: u32) -> Entry {
        let key = layout::version_key("maritime_movements", year, member, v);
        let filed = Filed {
            submission_id: format!("s-{member}-{year}-{v}"),
            member: member.to_string(),
            dataset: Some("maritime_movements".into()),
            year: Some(year),
            status: Status::Accepted,
            received_at: format!("2026-01-0{v}T00:00:00.000Z"),
        };
        Entry {
            accepted: vec![Stored { key, size: 100 + v as u64, sha256: None }],
            filed: vec![filed],
            ..Entry::default()
        }
    }

    fn versions(s: &State) -> Vec<(String, i32, u32)> {
        s.current(None).into_iter().map(|v| (v.member, v.year, v.version)).collect()
    }

    #[tokio::test]
    async fn entries_fold_into_the_newest_version_of_each_slot_and_a_withdrawal_hides_a_member() {
        let (_d, lake) = lake();
        assert!(read(&lake, true, true).await.unwrap().is_none(), "an empty lake has no ledger");
        let mut hint = 0;
        for e in
            [accepted("AUS", 2012, 1), accepted("AUS", 2012, 2), accepted("NZL", 2012, 1), accepted("NZL", 2011, 1)]
        {
            append(&lake, e, &mut hint).await.unwrap();
        }
        assert_eq!(hint, 4);
        let r = read(&lake, true, true).await.unwrap().unwrap();
        assert_eq!((r.entries_read, r.filed_read, r.filed_cached), (4, 4, 0));
        assert_eq!(versions(&r.state), [("NZL".into(), 2011, 1), ("AUS".into(), 2012, 2), ("NZL".into(), 2012, 1)]);
        assert_eq!(r.state.current(Some(2011)).len(), 1);
        assert_eq!(r.state.filed().len(), 4);

        let gone = withdraw_member(&lake, "secretariat", "NZL", "left the process").await.unwrap();
        assert_eq!((gone.slots.len(), gone.locked.len()), (2, 0));
        let r = read(&lake, true, true).await.unwrap().unwrap();
        assert_eq!(r.entries_read, 1, "only the new entry is read; the rest comes from the cache");
        assert_eq!(r.filed_cached, 4);
        assert!(matches!(
            withdraw_member(&lake, "secretariat", "NZL", "again").await,
            Err(StoreError::Refused(m)) if m.contains("nothing to withdraw")
        ));
        assert!(matches!(
            withdraw_member(&lake, "secretariat", "AUS", " ").await,
            Err(StoreError::Refused(m)) if m == "say why: withdrawing a member's returns"
        ));
        assert_eq!(versions(&r.state), [("AUS".into(), 2012, 2)]);
        assert_eq!(r.state.filed().len(), 4, "a withdrawn member's receipts stay");
        assert_eq!(
            r.state.withdrawn_in(2012).into_iter().collect::<Vec<_>>(),
            [("NZL".to_string(), "maritime_movements".to_string())]
        );
        let events = audit::read(&lake).await.unwrap();
        assert_eq!(events.last().unwrap().action, "member.withdraw");

        // a return sent after the withdrawal counts
        append(&lake, accepted("NZL", 2012, 2), &mut 0).await.unwrap();
        let r = read(&lake, true, true).await.unwrap().unwrap();
        assert_eq!(versions(&r.state), [("AUS".into(), 2012, 2), ("NZL".into(), 2012, 2)]);
        assert!(r.state.withdrawn_in(2012).is_empty(), "a return sent after the withdrawal counts");
        assert_eq!(r.state.withdrawn_in(2011).len(), 1);
        // the cached fold is the fold of every entry
        let cold = read(&lake, false, false).await.unwrap().unwrap();
        assert_eq!(cold.entries_read, 6);
        assert_eq!(cold.state, r.state);
    }

    #[tokio::test]
    async fn a_locked_cycle_keeps_its_agreed_returns_when_a_member_is_withdrawn() {
        let (_d, lake) = lake();
        for e in [accepted("NZL", 2011, 1), accepted("NZL", 2012, 1), accepted("FJI", 2012, 1)] {
            append(&lake, e, &mut 0).await.unwrap();
        }
        let lock = NewEvent {
            who: "alice".into(),
            action: crate::cycle::action::LOCK.into(),
            object: "cycle/2012".into(),
            year: Some(2012),
            why: Some("figures agreed".into()),
            ..NewEvent::default()
        };
        audit::append(&lake, lock).await.unwrap();
        let w = withdraw_member(&lake, "bob", "NZL", "left the process").await.unwrap();
        assert_eq!(w.slots.iter().map(|s| s.year).collect::<Vec<_>>(), [2011]);
        assert_eq!(w.locked.len(), 1);
        assert!(
            w.locked[0].1.starts_with("alice on ") && w.locked[0].1.ends_with(": figures agreed"),
            "{:?}",
            w.locked
        );
        let now = current_versions(&lake, None).await.unwrap();
        assert_eq!(now.iter().map(|v| (v.member.as_str(), v.year)).collect::<Vec<_>>(), [("FJI", 2012), ("NZL", 2012)]);
        let e = withdraw_member(&lake, "bob", "FJI", "asked").await.unwrap_err().to_string();
        assert!(e.starts_with("every cycle with a return of FJI is locked: 2012 (locked by alice on "), "{e}");
    }

    #[tokio::test]
    async fn a_kept_state_is_dropped_when_its_newest_entry_is_not_the_ledgers_any_more() {
        let (dir, lake) = lake();
        append(&lake, accepted("AUS", 2012, 1), &mut 0).await.unwrap();
        append(&lake, accepted("FJI", 2012, 1), &mut 0).await.unwrap();
        read(&lake, true, true).await.unwrap();
        // the lake put back from a copy whose ledger took another path
        let other = accepted("IDN", 2012, 1);
        let mut e = other.clone();
        e.seq = 2;
        std::fs::write(dir.path().join(layout::ledger_entry(2)), serde_json::to_vec(&e).unwrap()).unwrap();
        let r = read(&lake, true, true).await.unwrap().unwrap();
        assert_eq!(r.entries_read, 2, "read again from the start");
        assert_eq!(versions(&r.state), [("AUS".into(), 2012, 1), ("IDN".into(), 2012, 1)]);
    }

    #[tokio::test]
    async fn a_writer_with_a_stale_place_finds_the_head_and_no_entry_is_lost() {
        let (_d, lake) = lake();
        let (mut a, mut b) = (0, 0);
        append(&lake, accepted("AUS", 2012, 1), &mut a).await.unwrap();
        append(&lake, accepted("FJI", 2012, 1), &mut b).await.unwrap();
        assert_eq!((a, b), (1, 2));
        // a still thinks 1 is the head: its next place is taken, so it looks again
        assert_eq!(append(&lake, accepted("IDN", 2012, 1), &mut a).await.unwrap(), 3);
        // many at once
        let writers = (0..8).map(|i| {
            let lake = lake.clone();
            async move { append(&lake, accepted(&format!("M{i:02}"), 2012, 1), &mut 0).await }
        });
        let mut seqs = futures::future::try_join_all(writers).await.unwrap();
        seqs.sort_unstable();
        assert_eq!(seqs, (4..=11).collect::<Vec<u64>>());
        assert_eq!(read(&lake, false, false).await.unwrap().unwrap().state.current(None).len(), 11);
    }

    #[tokio::test]
    async fn the_first_entry_of_a_lake_from_before_the_ledger_holds_what_it_had() {
        let (_d, lake) = lake();
        // a version and its receipt stored before there was a ledger
        let old = layout::version_key("maritime_movements", 2011, "AUS", 1);
        lake.put(&old, Bytes::from_static(b"x")).await.unwrap();
        lake.put(&layout::claim_key("maritime_movements", 2011, "AUS", 1), Bytes::from_static(b"s-1")).await.unwrap();
        assert_eq!(current_versions(&lake, None).await.unwrap().len(), 1, "listed while there is no ledger");
        append(&lake, accepted("FJI", 2012, 1), &mut 0).await.unwrap();
        let first: Entry = serde_json::from_slice(&lake.get(&layout::ledger_entry(1)).await.unwrap()).unwrap();
        assert!(first.listed);
        let r = read(&lake, true, true).await.unwrap().unwrap();
        assert_eq!(versions(&r.state), [("AUS".into(), 2011, 1), ("FJI".into(), 2012, 1)]);
    }

    #[tokio::test]
    async fn a_removed_or_moved_entry_is_an_error_that_names_it() {
        let (dir, lake) = lake();
        for m in ["AUS", "FJI", "IDN"] {
            append(&lake, accepted(m, 2012, 1), &mut 0).await.unwrap();
        }
        std::fs::remove_file(dir.path().join(layout::ledger_entry(2))).unwrap();
        let err = read(&lake, false, false).await.unwrap_err().to_string();
        assert!(err.contains("jumps from entry 1 to 3") && err.contains("000000000002.json"), "{err}");
        let moved = lake.get(&layout::ledger_entry(3)).await.unwrap();
        lake.put(&layout::ledger_entry(2), moved).await.unwrap();
        let err = read(&lake, false, false).await.unwrap_err().to_string();
        assert!(err.contains("says it is number 3, but is stored as 2"), "{err}");
    }
}
