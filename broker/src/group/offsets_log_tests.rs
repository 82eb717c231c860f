//! Recovery of the committed offsets file: what is cut, what is skipped, what is kept.

use super::*;

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

fn offset(all: &AllOffsets, group: &str) -> Option<i64> {
    all.get(group)
        .and_then(|o| o.get(&("t".to_string(), 0)))
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
    let g = &all["g"];
    assert_eq!(g.len(), 1);
    assert_eq!(g[&("t".to_string(), 0)].offset, 9);
    assert_eq!(g[&("t".to_string(), 0)].metadata.as_deref(), Some("m"));
    let compacted = fs::read(path(&dir)).expect("read");
    assert_eq!(
        compacted,
        encode("g", "t", 0, &c(9)).expect("encode").to_vec()
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
    let committed = &all["g"][&("t".to_string(), 7)];
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
