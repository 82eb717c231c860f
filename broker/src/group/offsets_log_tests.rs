//! Recovery of the committed offsets file: what is cut, what is skipped, what is kept.

use super::*;
use std::path::PathBuf;

fn c(offset: i64) -> Committed {
    Committed {
        offset,
        metadata: Some("m".into()),
    }
}

fn path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join(FILE)
}

/// A record with a valid length and checksum around `payload`.
fn checksummed(payload: &[u8]) -> Vec<u8> {
    let mut record = (payload.len() as u32).to_be_bytes().to_vec();
    record.extend_from_slice(&crc32c::crc32c(payload).to_be_bytes());
    record.extend_from_slice(payload);
    record
}

/// Writes `records` (group, offset) for topic "t" partition 0, each one a separate record.
fn write(dir: &tempfile::TempDir, records: &[(&str, i64)]) -> Vec<u8> {
    let (mut log, _) = OffsetsLog::open(dir.path()).expect("open");
    for (group, offset) in records {
        log.append(group, "t", 0, &c(*offset)).expect("append");
    }
    drop(log);
    fs::read(path(dir)).expect("read")
}

fn offset(all: &AllGroups, group: &str) -> Option<i64> {
    all.get(group)
        .and_then(|g| g.offsets.get(&("t".to_string(), 0)))
        .map(|c| c.offset)
}

fn corrupt_copies(dir: &tempfile::TempDir) -> usize {
    fs::read_dir(dir.path())
        .expect("dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().contains(".corrupt-"))
        })
        .count()
}

#[test]
fn recovers_latest_offsets_and_drops_a_torn_tail() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (mut log, all) = OffsetsLog::open(dir.path()).expect("open");
        assert!(all.is_empty());
        log.append("g", "t", 0, &c(5)).expect("write");
        log.append("g", "t", 0, &c(9)).expect("write");
        log.append("g", "gone", 1, &c(3)).expect("write");
        log.append("g", "gone", 1, &c(-1)).expect("write");
    }
    let mut bytes = fs::read(path(&dir)).expect("read");
    bytes.extend_from_slice(&[0, 0, 0, 40, 1, 2]);
    fs::write(path(&dir), bytes).expect("write torn tail");
    let (_, all) = OffsetsLog::open(dir.path()).expect("reopen");
    let g = &all["g"].offsets;
    assert_eq!(g.len(), 1);
    assert_eq!(g[&("t".to_string(), 0)].offset, 9);
    assert_eq!(g[&("t".to_string(), 0)].metadata.as_deref(), Some("m"));
    let compacted = fs::read(path(&dir)).expect("read");
    let clock = encode_clock("g", Clock::Since(all["g"].empty_since)).expect("encode");
    assert_eq!(
        compacted,
        [encode("g", "t", 0, &c(9)).expect("encode"), clock].concat(),
        "the live commit, then the group's clock"
    );
    assert_eq!(corrupt_copies(&dir), 0, "a torn tail is not corruption");
}

/// The format is unchanged: a file written by the broker before recovery learned to skip
/// records (bytes written out by hand here) reads the same.
#[test]
fn reads_the_format_written_so_far() {
    let payload = [
        &[0, 1, b'g'][..],
        &[0, 1, b't'],
        &7i32.to_be_bytes(),
        &42i64.to_be_bytes(),
        &[0xFF, 0xFF],
    ]
    .concat();
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(path(&dir), checksummed(&payload)).expect("write");
    let (_, all) = OffsetsLog::open(dir.path()).expect("open");
    let committed = &all["g"].offsets[&("t".to_string(), 7)];
    assert_eq!(
        (committed.offset, committed.metadata.as_deref()),
        (42, None)
    );
}

/// A record whose checksum passes but which does not decode is skipped, not a reason to drop
/// the commits after it; it stays in the compacted file for a broker that understands it.
#[test]
fn skips_a_checksummed_record_that_does_not_decode_and_reads_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let before = write(&dir, &[("a", 5)]);
    let garbage = checksummed(b"\xFF\xFEnot an offsets record at all, from somewhere else");
    let after = encode("b", "t", 0, &c(8)).expect("encode");
    fs::write(path(&dir), [&before[..], &garbage, &after].concat()).expect("write");

    for expected in [5, 6] {
        let (mut log, all) = OffsetsLog::open(dir.path()).expect("open");
        assert_eq!(offset(&all, "a"), Some(expected));
        assert_eq!(
            offset(&all, "b"),
            Some(8),
            "the commit after the bad record"
        );
        let file = fs::read(path(&dir)).expect("read");
        assert!(
            file.windows(garbage.len()).any(|w| w == garbage),
            "the record not understood is kept"
        );
        log.append("a", "t", 0, &c(6))
            .expect("append after recovery");
    }
    assert_eq!(corrupt_copies(&dir), 0);
}

/// A record that fails its checksum in the middle is stepped over (its length still frames
/// it, or not), the commits after it are read, and the original file is kept aside.
#[test]
fn steps_over_a_checksum_failure_in_the_middle() {
    for broken_length in [false, true] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut bytes = write(&dir, &[("a", 1), ("a", 2), ("b", 3), ("c", 4)]);
        let second = encode("a", "t", 0, &c(2)).expect("encode").len();
        if broken_length {
            bytes[second..second + 4].copy_from_slice(&0x7FFF_0000u32.to_be_bytes());
        } else {
            bytes[second + 12] ^= 0x40;
        }
        let original = bytes.clone();
        fs::write(path(&dir), &bytes).expect("write");
        let (_, all) = OffsetsLog::open(dir.path()).expect("open");
        assert_eq!(
            offset(&all, "a"),
            Some(1),
            "the damaged commit is lost, no more"
        );
        assert_eq!(offset(&all, "b"), Some(3));
        assert_eq!(offset(&all, "c"), Some(4));
        let kept: Vec<_> = fs::read_dir(dir.path())
            .expect("dir")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".corrupt-"))
            .collect();
        assert_eq!(kept.len(), 1);
        assert_eq!(fs::read(kept[0].path()).expect("read"), original);
    }
}

/// A last record that is whole but fails its checksum is a torn write: cut off.
#[test]
fn cuts_a_checksum_failure_at_the_very_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bytes = write(&dir, &[("a", 1), ("b", 2)]);
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(path(&dir), &bytes).expect("write");
    let (_, all) = OffsetsLog::open(dir.path()).expect("open");
    assert_eq!(offset(&all, "a"), Some(1));
    assert_eq!(offset(&all, "b"), None);
    assert_eq!(corrupt_copies(&dir), 0);
}

/// A name that does not fit the format's u16 length is refused, never stored cut short
/// (a cut could split a UTF-8 character and leave a record that does not decode).
#[test]
fn refuses_a_name_too_long_for_the_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut log, _) = OffsetsLog::open(dir.path()).expect("open");
    let long = "é".repeat(40_000);
    let err = log.append(&long, "t", 0, &c(1)).expect_err("too long");
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(fs::read(path(&dir)).expect("read").is_empty());
}

/// The clock record, written out by hand: a broker that predates it reads a null group where a
/// commit has its group, so it skips the record (and keeps it) instead of misreading it.
#[test]
fn the_clock_record_is_laid_out_as_documented() {
    let since = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_123);
    let payload = [
        &[0xFF, 0xFF][..],
        &[0, 11],
        b"empty-since",
        &[0, 1, b'g'],
        &1_700_000_000_123i64.to_be_bytes(),
    ]
    .concat();
    assert_eq!(
        encode_clock("g", Clock::Since(since))
            .expect("encode")
            .to_vec(),
        checksummed(&payload)
    );
    let stopped = encode_clock("g", Clock::Stopped).expect("encode");
    assert_eq!(stopped[stopped.len() - 8..], (-1i64).to_be_bytes());
}

/// Where each group's clock stood when the file was written is where it stands after a
/// restart; a group that had members then, or whose file predates clocks, counts from the
/// start, and the compacted file keeps that start for the next one.
#[test]
fn each_group_keeps_its_clock_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let long_ago = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000);
    {
        let (mut log, _) = OffsetsLog::open(dir.path()).expect("open");
        for group in ["idle", "busy", "old"] {
            log.append(group, "t", 0, &c(1)).expect("append");
        }
        log.append_clock("idle", Clock::Since(long_ago))
            .expect("clock");
        log.append_clock("busy", Clock::Since(long_ago))
            .expect("clock");
        log.append_clock("busy", Clock::Stopped).expect("clock");
    }
    let before = SystemTime::now() - std::time::Duration::from_millis(1);
    let (_, first) = OffsetsLog::open(dir.path()).expect("reopen");
    assert_eq!(first["idle"].empty_since, long_ago);
    for group in ["busy", "old"] {
        assert!(
            first[group].empty_since >= before,
            "{group} counts from the start"
        );
    }
    let (_, second) = OffsetsLog::open(dir.path()).expect("reopen again");
    for group in ["idle", "busy", "old"] {
        let expected = first[group]
            .empty_since
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_millis();
        let read = second[group]
            .empty_since
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_millis();
        assert_eq!(read, expected, "{group}: the first start's clock, kept");
    }
}

/// A group whose offsets all went (expired, or its topics deleted) was removed: a clock
/// recorded before does not apply to a later group of the same name.
#[test]
fn a_group_left_without_offsets_forgets_its_clock() {
    let dir = tempfile::tempdir().expect("tempdir");
    let long_ago = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000);
    {
        let (mut log, _) = OffsetsLog::open(dir.path()).expect("open");
        log.append("g", "t", 0, &c(1)).expect("append");
        log.append("g", "t", 1, &c(1)).expect("append");
        log.append_clock("g", Clock::Since(long_ago))
            .expect("clock");
        log.append("g", "t", 0, &c(-1)).expect("tombstone");
        log.append("g", "t", 1, &c(-1)).expect("tombstone");
        log.append("g", "t", 0, &c(7)).expect("a new commit");
    }
    let before = SystemTime::now() - std::time::Duration::from_millis(1);
    let (_, all) = OffsetsLog::open(dir.path()).expect("reopen");
    assert_eq!(offset(&all, "g"), Some(7));
    assert!(
        all["g"].empty_since >= before,
        "not the removed group's clock"
    );
}
