//! The content-addressed artefact store: one folder per job key holding the job's files and a
//! `entry.json` with their SHA-256 sums. An entry is written under a temporary name and renamed
//! into place, so a reader sees all of it or none of it; a per-key lock keeps two runs on one
//! cache from doing the same job twice; an entry whose files no longer match their sums is
//! reported corrupt and removed, so that the job runs again.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::plan::{sha256_hex, Key};

/// What `entry.json` records.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Manifest {
    key: Key,
    /// File name -> SHA-256.
    files: BTreeMap<String, String>,
    /// Whatever the job wants to remember (metric values, query counts, losses, timings).
    meta: serde_json::Value,
    /// The SHA-256 of the three fields above (their canonical JSON): the numbers in `meta` are
    /// results too, and a file dropped from `files` would shrink an image set unnoticed.
    /// Absent in entries of heists before it, which are not trusted.
    #[serde(default)]
    sha256: Option<String>,
}

impl Manifest {
    fn checksum(key: &Key, files: &BTreeMap<String, String>, meta: &serde_json::Value) -> String {
        sha256_hex(&serde_json::to_vec(&(key, files, meta)).expect("JSON values serialise"))
    }

    /// Why the manifest cannot be trusted, if it cannot.
    fn problem(&self, key: &Key) -> Option<String> {
        if self.key != *key {
            return Some("entry.json belongs to another key".into());
        }
        match &self.sha256 {
            None => Some("entry.json has no checksum (written by an older heist)".into()),
            Some(sum) if *sum != Manifest::checksum(&self.key, &self.files, &self.meta) => Some(
                "entry.json does not match its checksum (its recorded values were changed)".into(),
            ),
            Some(_) => None,
        }
    }
}

/// A complete, verified entry.
#[derive(Debug, Clone)]
pub struct Entry {
    pub dir: PathBuf,
    pub meta: serde_json::Value,
    /// The artefacts' file names, sorted.
    pub files: Vec<String>,
}

impl Entry {
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// What a lookup found.
#[derive(Debug)]
pub enum Lookup {
    Hit(Entry),
    Miss,
    /// The entry was there but damaged (`why`); it has been removed.
    Corrupt {
        why: String,
    },
}

/// The store under `root` (`objects/` for entries, `tmp/` for entries being written,
/// `locks/` for per-key locks, `checkpoints/` for training jobs not finished yet, `index/` for
/// the spec each experiment's job id was last computed with, `jobs/` and `programs/` for the
/// descriptions `heist worker` runs a job from).
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    pub fn open(root: &Path) -> io::Result<Cache> {
        for sub in [
            "objects",
            "tmp",
            "locks",
            "checkpoints",
            "jobs",
            "programs",
            "live",
        ] {
            fs::create_dir_all(root.join(sub))?;
        }
        Ok(Cache {
            root: root.to_path_buf(),
        })
    }

    /// `$HEIST_CACHE`, else `$XDG_CACHE_HOME/heist`, else `~/.cache/heist`.
    pub fn default_root() -> PathBuf {
        if let Some(dir) = std::env::var_os("HEIST_CACHE") {
            return PathBuf::from(dir);
        }
        if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
            return PathBuf::from(dir).join("heist");
        }
        std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".cache/heist"))
            .unwrap_or_else(|| std::env::temp_dir().join("heist-cache"))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dir(&self, key: &Key) -> PathBuf {
        self.root.join("objects").join(&key.0[..2]).join(&key.0)
    }

    /// Whether a complete entry exists (without verifying its files: see [`Cache::get`]).
    pub fn contains(&self, key: &Key) -> bool {
        fs::read(self.dir(key).join("entry.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<Manifest>(&b).ok())
            .is_some_and(|m| m.problem(key).is_none())
    }

    /// The entry of `key`, verified against its sums.
    pub fn get(&self, key: &Key) -> io::Result<Lookup> {
        let dir = self.dir(key);
        let manifest = match fs::read(dir.join("entry.json")) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Lookup::Miss),
            Err(e) => return Err(e),
        };
        let why = match serde_json::from_slice::<Manifest>(&manifest) {
            Err(e) => format!("entry.json is unreadable ({e})"),
            Ok(m) if m.problem(key).is_some() => m.problem(key).expect("a problem"),
            Ok(m) => {
                let mut problem = None;
                for (name, sum) in &m.files {
                    match fs::read(dir.join(name)) {
                        Ok(bytes) if sha256_hex(&bytes) == *sum => {}
                        Ok(_) => problem = Some(format!("`{name}` does not match its checksum")),
                        Err(_) => problem = Some(format!("`{name}` is missing")),
                    }
                    if problem.is_some() {
                        break;
                    }
                }
                match problem {
                    None => {
                        // The entry's time of last use, for `heist cache gc`.
                        let _ = fs::OpenOptions::new()
                            .write(true)
                            .open(dir.join("entry.json"))
                            .and_then(|f| f.set_modified(std::time::SystemTime::now()));
                        return Ok(Lookup::Hit(Entry {
                            dir,
                            meta: m.meta,
                            files: m.files.into_keys().collect(),
                        }));
                    }
                    Some(p) => p,
                }
            }
        };
        let _ = self.remove(key);
        Ok(Lookup::Corrupt { why })
    }

    /// Stores `files` (name, bytes) and `meta` as the entry of `key`, atomically: everything is
    /// written and synced under `tmp/`, then the folder is renamed into place. An existing
    /// complete entry is kept (the job is deterministic, so both are the same).
    pub fn put(
        &self,
        key: &Key,
        files: &[(&str, &[u8])],
        meta: serde_json::Value,
    ) -> io::Result<Entry> {
        let tmp = self.root.join("tmp").join(format!(
            "{}-{}-{}",
            key.short(),
            std::process::id(),
            unique()
        ));
        fs::create_dir_all(&tmp)?;
        let result = (|| {
            let mut sums = BTreeMap::new();
            for (name, bytes) in files {
                if name.contains('/') || *name == "entry.json" || name.starts_with('.') {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("bad artefact name `{name}`"),
                    ));
                }
                write_synced(&tmp.join(name), bytes)?;
                sums.insert(name.to_string(), sha256_hex(bytes));
            }
            let manifest = Manifest {
                sha256: Some(Manifest::checksum(key, &sums, &meta)),
                key: key.clone(),
                files: sums,
                meta: meta.clone(),
            };
            write_synced(
                &tmp.join("entry.json"),
                &serde_json::to_vec_pretty(&manifest)?,
            )?;
            let dir = self.dir(key);
            fs::create_dir_all(dir.parent().expect("objects/xx"))?;
            match fs::rename(&tmp, &dir) {
                // The rename itself reaches the disk before the entry is reported stored.
                Ok(()) => crate::fsutil::sync_dir(dir.parent().expect("objects/xx")),
                // Someone else finished the same job first.
                Err(_) if dir.join("entry.json").exists() => {
                    let _ = fs::remove_dir_all(&tmp);
                    Ok(())
                }
                Err(e) => Err(e),
            }
        })();
        if result.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        result?;
        let mut names: Vec<String> = files.iter().map(|(n, _)| n.to_string()).collect();
        names.sort();
        Ok(Entry {
            dir: self.dir(key),
            meta,
            files: names,
        })
    }

    /// An exclusive lock on `key` (blocking): held while a job computes, so that a second run
    /// on the same cache waits and then finds the entry instead of computing it again.
    pub fn lock(&self, key: &Key) -> io::Result<KeyLock> {
        let file = File::create(self.root.join("locks").join(format!("{}.lock", key.0)))?;
        file.lock()?;
        Ok(KeyLock { _file: file })
    }

    /// Removes what interrupted runs left under `tmp/`: folders of processes that are no
    /// longer running (where that cannot be told, ones older than a day).
    pub fn clean_tmp(&self) -> io::Result<usize> {
        let mut n = 0;
        for entry in fs::read_dir(self.root.join("tmp"))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rest = name.strip_prefix("removed-").unwrap_or(&name);
            let pid = rest.split('-').nth(1).and_then(|p| p.parse::<u32>().ok());
            let alive = match pid {
                Some(p) if Path::new("/proc/self").exists() => {
                    Path::new(&format!("/proc/{p}")).exists()
                }
                _ => entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age.as_secs() < 86_400),
            };
            let path = entry.path();
            if !alive
                && fs::remove_dir_all(&path)
                    .or_else(|_| fs::remove_file(&path))
                    .is_ok()
            {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Every complete entry: key, size in bytes, time of last use, metadata.
    pub fn entries(&self) -> io::Result<Vec<Stored>> {
        let mut out = vec![];
        for shard in fs::read_dir(self.root.join("objects"))? {
            let shard = shard?.path();
            if !shard.is_dir() {
                continue;
            }
            for entry in fs::read_dir(&shard)? {
                let dir = entry?.path();
                let Ok(bytes) = fs::read(dir.join("entry.json")) else {
                    continue;
                };
                let Ok(m) = serde_json::from_slice::<Manifest>(&bytes) else {
                    continue;
                };
                let mut size = bytes.len() as u64;
                for name in m.files.keys() {
                    size += fs::metadata(dir.join(name)).map_or(0, |m| m.len());
                }
                let used = fs::metadata(dir.join("entry.json"))
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::SystemTime::UNIX_EPOCH);
                out.push(Stored {
                    key: m.key,
                    size,
                    used,
                    meta: m.meta,
                });
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// A new folder name under `tmp/` for files exchanged with external victims (removed by
    /// its owner; left over by a killed process, `clean_tmp` removes it).
    pub fn scratch(&self) -> PathBuf {
        self.root
            .join("tmp")
            .join(format!("scratch-{}-{}", std::process::id(), unique()))
    }

    /// Marks a run (or worker) as live on this cache while the guard is held: `gc` keeps what
    /// it uses. The mark is a locked file; the OS drops the lock when the process dies.
    pub fn live(&self) -> io::Result<LiveRun> {
        let path = self
            .root
            .join("live")
            .join(format!("{}-{}.lock", std::process::id(), unique()));
        let file = File::create(&path)?;
        file.lock()?;
        Ok(LiveRun { path, _file: file })
    }

    /// When the oldest run still holding its [`Cache::live`] mark started.
    fn live_since(&self) -> Option<std::time::SystemTime> {
        let mut oldest: Option<std::time::SystemTime> = None;
        for entry in fs::read_dir(self.root.join("live")).ok()?.flatten() {
            let path = entry.path();
            let Ok(file) = File::open(&path) else {
                continue;
            };
            match file.try_lock() {
                // Nobody holds it: a run that died; its mark goes.
                Ok(()) => {
                    let _ = fs::remove_file(&path);
                }
                Err(_) => {
                    let started = entry
                        .metadata()
                        .and_then(|m| m.modified())
                        .unwrap_or(std::time::SystemTime::UNIX_EPOCH);
                    oldest = Some(oldest.map_or(started, |o| o.min(started)));
                }
            }
        }
        oldest
    }

    /// Where `heist worker` reads what the job of `key` is.
    pub fn description(&self, key: &Key) -> PathBuf {
        self.root.join("jobs").join(format!("{}.json", key.0))
    }

    /// Where a program that job descriptions name is kept, by the SHA-256 of its JSON.
    pub fn program(&self, sha: &str) -> PathBuf {
        self.root.join("programs").join(format!("{sha}.json"))
    }

    /// Where the training job of `key` keeps its checkpoint until its entry is stored.
    pub fn checkpoint(&self, key: &Key) -> PathBuf {
        self.root
            .join("checkpoints")
            .join(format!("{}.ckpt", key.0))
    }

    /// The checkpoints of unfinished training jobs: path, size in bytes, time of writing.
    pub fn checkpoints(&self) -> io::Result<Vec<(PathBuf, u64, std::time::SystemTime)>> {
        let mut out = vec![];
        for entry in fs::read_dir(self.root.join("checkpoints"))? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "ckpt") {
                let m = fs::metadata(&path)?;
                out.push((path, m.len(), m.modified()?));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Removes an entry (moved aside first, so that no reader sees half of it).
    pub fn remove(&self, key: &Key) -> io::Result<()> {
        let trash = self.root.join("tmp").join(format!(
            "removed-{}-{}-{}",
            key.short(),
            std::process::id(),
            unique()
        ));
        fs::rename(self.dir(key), &trash)?;
        fs::remove_dir_all(&trash)
    }
}

/// What `heist cache status` shows: entries and bytes by stage, and unfinished checkpoints.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    /// Stage -> (entries, bytes).
    pub by_stage: BTreeMap<String, (usize, u64)>,
    pub entries: usize,
    pub bytes: u64,
    pub checkpoints: usize,
    pub checkpoint_bytes: u64,
}

/// What `heist cache gc` removed (or, dry, would remove).
#[derive(Debug, Clone, Default)]
pub struct Pruned {
    /// Entries and checkpoints.
    pub removed: usize,
    pub bytes: u64,
    /// Leftovers of interrupted runs under `tmp/`.
    pub temporary: usize,
    /// Entries kept although old enough, because a run that is still going used them.
    pub in_use: usize,
    /// Entries that could not be removed, with why.
    pub failures: Vec<(Key, String)>,
}

impl Cache {
    /// Entries and sizes by stage, and the checkpoints of unfinished training jobs.
    pub fn usage(&self) -> io::Result<Usage> {
        let mut usage = Usage::default();
        for e in self.entries()? {
            let stage = e.meta["stage"].as_str().unwrap_or("other").to_string();
            let s = usage.by_stage.entry(stage).or_default();
            s.0 += 1;
            s.1 += e.size;
            usage.entries += 1;
            usage.bytes += e.size;
        }
        for (_, size, _) in self.checkpoints().unwrap_or_default() {
            usage.checkpoints += 1;
            usage.checkpoint_bytes += size;
        }
        Ok(usage)
    }

    /// Removes entries and checkpoints unused for more than `older_than_days` (all with `all`),
    /// and what interrupted runs left in `tmp/`; with `dry_run`, only counts them.
    pub fn gc(&self, older_than_days: f64, all: bool, dry_run: bool) -> io::Result<Pruned> {
        let mut pruned = Pruned {
            temporary: if dry_run {
                0
            } else {
                self.clean_tmp().unwrap_or(0)
            },
            ..Pruned::default()
        };
        let age =
            |t: std::time::SystemTime| t.elapsed().map_or(0.0, |d| d.as_secs_f64() / 86_400.0);
        // A run still going may be about to read what it made or found: entries used since the
        // oldest live run started are kept, whatever their age.
        let live_since = self.live_since();
        for e in self.entries()? {
            if live_since.is_some_and(|since| e.used >= since) {
                pruned.in_use += 1;
                continue;
            }
            if all || age(e.used) > older_than_days {
                if !dry_run {
                    if let Err(err) = self.remove(&e.key) {
                        pruned.failures.push((e.key, err.to_string()));
                        continue;
                    }
                }
                pruned.removed += 1;
                pruned.bytes += e.size;
            }
        }
        // Checkpoints of training jobs that were stopped and not rerun are pruned by the same age.
        for (path, size, written) in self.checkpoints().unwrap_or_default() {
            if live_since.is_some_and(|since| written >= since) {
                pruned.in_use += 1;
                continue;
            }
            if (all || age(written) > older_than_days)
                && (dry_run || fs::remove_file(&path).is_ok())
            {
                pruned.removed += 1;
                pruned.bytes += size;
            }
        }
        Ok(pruned)
    }
}

/// A stored entry, as `heist cache status` lists it.
#[derive(Debug, Clone)]
pub struct Stored {
    pub key: Key,
    pub size: u64,
    pub used: std::time::SystemTime,
    pub meta: serde_json::Value,
}

/// A run's mark on the cache ([`Cache::live`]), removed when dropped.
pub struct LiveRun {
    path: PathBuf,
    _file: File,
}

impl Drop for LiveRun {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Released when dropped (the OS also releases it when the process dies, even by `kill -9`).
pub struct KeyLock {
    _file: File,
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut f = File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("heist-cache-test-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn an_entry_is_stored_found_and_verified() {
        let root = scratch("roundtrip");
        let cache = Cache::open(&root).unwrap();
        let key = Key::of(&"victim monet");
        assert!(matches!(cache.get(&key).unwrap(), Lookup::Miss));
        cache
            .put(
                &key,
                &[("weights.safetensors", b"abc"), ("log.txt", b"ok")],
                serde_json::json!({"steps": 3}),
            )
            .unwrap();
        match cache.get(&key).unwrap() {
            Lookup::Hit(e) => {
                assert_eq!(fs::read(e.file("weights.safetensors")).unwrap(), b"abc");
                assert_eq!(e.meta["steps"], 3);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            fs::read_dir(root.join("tmp")).unwrap().count(),
            0,
            "nothing left behind"
        );
        let _ = fs::remove_dir_all(root);
    }

    #[test]
    fn a_damaged_entry_is_reported_and_removed() {
        let root = scratch("corrupt");
        let cache = Cache::open(&root).unwrap();
        let key = Key::of(&"surrogate");
        let entry = cache
            .put(
                &key,
                &[("weights.safetensors", b"abcdef")],
                serde_json::Value::Null,
            )
            .unwrap();
        fs::write(entry.file("weights.safetensors"), b"abcdeX").unwrap();
        match cache.get(&key).unwrap() {
            Lookup::Corrupt { why } => assert!(why.contains("checksum"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(cache.get(&key).unwrap(), Lookup::Miss));
        // Half-written entries (no entry.json) are misses, never hits.
        fs::create_dir_all(cache.dir(&key)).unwrap();
        fs::write(cache.dir(&key).join("weights.safetensors"), b"partial").unwrap();
        assert!(matches!(cache.get(&key).unwrap(), Lookup::Miss));
        let _ = fs::remove_dir_all(root);
    }

    /// Edits `entry.json` of `key` as a JSON value.
    fn tamper(cache: &Cache, key: &Key, edit: impl Fn(&mut serde_json::Value)) {
        let path = cache.dir(key).join("entry.json");
        let mut json: serde_json::Value =
            serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        edit(&mut json);
        fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
    }

    #[test]
    fn recorded_values_and_file_lists_are_verified_too() {
        let root = scratch("meta");
        let cache = Cache::open(&root).unwrap();
        let key = Key::of(&"evaluate");
        let put = || {
            cache
                .put(
                    &key,
                    &[("output-00000.png", b"a"), ("output-00001.png", b"b")],
                    serde_json::json!({"values": [{"value": 0.25}]}),
                )
                .unwrap()
        };
        put();
        assert!(cache.contains(&key));
        // One digit of a metric value.
        tamper(&cache, &key, |j| {
            j["meta"]["values"][0]["value"] = 0.35.into()
        });
        assert!(!cache.contains(&key), "not counted as cached either");
        match cache.get(&key).unwrap() {
            Lookup::Corrupt { why } => assert!(why.contains("checksum"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(cache.get(&key).unwrap(), Lookup::Miss), "removed");
        // A file dropped from the list would shrink an image set.
        put();
        tamper(&cache, &key, |j| {
            j["files"]
                .as_object_mut()
                .unwrap()
                .remove("output-00001.png");
        });
        assert!(matches!(cache.get(&key).unwrap(), Lookup::Corrupt { .. }));
        // An entry of an older heist, without a checksum, is not trusted.
        put();
        tamper(&cache, &key, |j| {
            j.as_object_mut().unwrap().remove("sha256");
        });
        match cache.get(&key).unwrap() {
            Lookup::Corrupt { why } => assert!(why.contains("older heist"), "{why}"),
            other => panic!("{other:?}"),
        }
        let _ = fs::remove_dir_all(root);
    }

    #[test]
    fn gc_keeps_what_a_live_run_uses() {
        let root = scratch("gc-live");
        let cache = Cache::open(&root).unwrap();
        let old = Key::of(&"old");
        cache
            .put(&old, &[("a", b"1")], serde_json::Value::Null)
            .unwrap();
        // File times are coarse (a few ms): the run starts visibly after the old entry.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let live = cache.live().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let fresh = Key::of(&"fresh");
        cache
            .put(&fresh, &[("a", b"2")], serde_json::Value::Null)
            .unwrap();
        // The old entry was made before the run started: it goes; the fresh one stays.
        let pruned = cache.gc(0.0, true, false).unwrap();
        assert_eq!((pruned.removed, pruned.in_use), (1, 1));
        assert!(cache.contains(&fresh) && !cache.contains(&old));
        drop(live);
        assert_eq!(cache.gc(0.0, true, false).unwrap().removed, 1);
        let _ = fs::remove_dir_all(root);
    }

    #[test]
    fn a_lock_excludes_a_second_holder_until_dropped() {
        let root = scratch("lock");
        let cache = Cache::open(&root).unwrap();
        let key = Key::of(&"job");
        let held = cache.lock(&key).unwrap();
        let other = File::create(root.join("locks").join(format!("{}.lock", key.0))).unwrap();
        assert!(other.try_lock().is_err(), "held by the first");
        drop(held);
        assert!(other.try_lock().is_ok(), "free again");
        let _ = fs::remove_dir_all(root);
    }
}
