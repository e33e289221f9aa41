//! go-sqlite3's timestamp layouts: how `_ldb_last_update` stores a time, and every layout
//! ctlstore may have written there. Pure.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A ledger `leader_ts` (`YYYY-MM-DD HH:MM:SS`, UTC) in the layout go-sqlite3 writes for a
/// `time.Time` (`2006-01-02 15:04:05.999999999-07:00`): `2024-02-07 22:04:32+00:00`.
pub fn go_timestamp(leader_ts: &str) -> String {
    let ts = leader_ts.trim();
    if ts.len() >= 19 && parse_timestamp(ts).is_some() {
        format!("{}+00:00", &ts[..19])
    } else {
        format_timestamp(SystemTime::now())
    }
}

/// The `_ldb_last_update` to record for an entry stamped `leader_ts`: the entry's time, kept
/// within what this host can vouch for. Never later than `now`: a leader clock ahead of ours
/// would otherwise read as negative staleness and then hide real staleness until our clock
/// caught up. Never earlier than `previous`: entries from an executive whose clock lags would
/// otherwise make staleness jump by the lag. With clocks in step this is `go_timestamp`.
pub fn bounded_timestamp(leader_ts: &str, previous: Option<&str>, now: SystemTime) -> String {
    let Some(at) = parse_timestamp(leader_ts) else {
        return format_timestamp(now);
    };
    if at > now {
        return format_timestamp(now);
    }
    match previous.and_then(|p| parse_timestamp(p).map(|t| (p, t))) {
        Some((previous, t)) if t > at && t <= now => previous.to_string(),
        _ => go_timestamp(leader_ts),
    }
}

/// `t` in the layout go-sqlite3 writes for a UTC `time.Time`, to the second:
/// `2024-02-07 22:04:32+00:00`.
pub fn format_timestamp(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}+00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses every timestamp layout go-sqlite3 writes or reads (`2006-01-02 15:04:05.999999999-07:00`,
/// with `T`, with or without fraction and zone, a trailing `Z`, `2006-01-02 15:04`,
/// `2006-01-02`); no zone means UTC. Returns the instant.
pub fn parse_timestamp(text: &str) -> Option<SystemTime> {
    let s = text.trim().trim_end_matches('Z');
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|v| v.parse::<i64>().ok());
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if s.get(4..5)? != "-" || s.get(7..8)? != "-" {
        return None;
    }
    let mut secs = days_from_civil(y, mo, d) * 86_400;
    let mut nanos = 0u32;
    let mut rest = s.get(10..).unwrap_or("");
    if let Some(time) = rest.strip_prefix([' ', 'T']) {
        let h = time.get(0..2)?.parse::<i64>().ok()?;
        let mi = time.get(3..5)?.parse::<i64>().ok()?;
        secs += h * 3600 + mi * 60;
        rest = time.get(5..).unwrap_or("");
        if let Some(sec) = rest.strip_prefix(':') {
            secs += sec.get(0..2)?.parse::<i64>().ok()?;
            rest = sec.get(2..).unwrap_or("");
            if let Some(frac) = rest.strip_prefix('.') {
                let digits: String = frac.chars().take_while(|c| c.is_ascii_digit()).collect();
                rest = &frac[digits.len()..];
                let padded = format!("{digits:0<9}");
                nanos = padded.get(0..9)?.parse().ok()?;
            }
        }
    }
    if let Some(sign @ ('+' | '-')) = rest.chars().next() {
        let zone = &rest[1..];
        let zh = zone.get(0..2)?.parse::<i64>().ok()?;
        let zm = zone
            .get(3..5)
            .or_else(|| zone.get(2..4))
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0);
        let offset = zh * 3600 + zm * 60;
        secs -= if sign == '+' { offset } else { -offset };
    } else if !rest.trim().is_empty() {
        return None;
    }
    let t = if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))?
    };
    Some(t + Duration::from_nanos(u64::from(nanos)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn last_update_stays_between_the_previous_and_now() {
        let now = parse_timestamp("2026-11-29 12:00:00").expect("now");
        let bounded = |ts, previous| super::bounded_timestamp(ts, previous, now);
        // Clocks in step: the entry's own time, in go-sqlite3's layout.
        assert_eq!(
            bounded("2026-11-29 11:59:58", None),
            "2026-11-29 11:59:58+00:00"
        );
        // A leader ahead of us: no later than now.
        assert_eq!(
            bounded("2026-11-29 13:00:00", None),
            "2026-11-29 12:00:00+00:00"
        );
        // An entry from a lagging executive after a current one: the newer time stays.
        assert_eq!(
            bounded("2026-11-29 11:00:00", Some("2026-11-29 11:59:59+00:00")),
            "2026-11-29 11:59:59+00:00"
        );
        // A previous value in the future (written before this rule) does not stick.
        assert_eq!(
            bounded("2026-11-29 11:59:00", Some("2027-01-01 00:00:00+00:00")),
            "2026-11-29 11:59:00+00:00"
        );
        // Garbage: now.
        assert_eq!(bounded("not a time", None), "2026-11-29 12:00:00+00:00");
    }

    use super::*;

    fn unix(text: &str) -> Option<u64> {
        parse_timestamp(text)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs())
    }

    #[test]
    fn go_sqlite3_layouts() {
        let want = Some(1_707_343_472); // 2024-02-07 22:04:32 UTC
        for text in [
            "2024-02-07 22:04:32+00:00",
            "2024-02-07 22:04:32.123456789+00:00",
            "2024-02-07T22:04:32Z",
            "2024-02-07 22:04:32",
            "2024-02-07T23:04:32+01:00",
            "2024-02-07 14:04:32-08:00",
        ] {
            assert_eq!(unix(text), want, "{text}");
        }
        assert_eq!(unix("2024-02-07 22:04"), Some(1_707_343_440));
        assert_eq!(unix("2024-02-07"), Some(1_707_264_000));
        assert_eq!(unix("yesterday"), None);
        assert_eq!(
            go_timestamp("2024-02-07 22:04:32"),
            "2024-02-07 22:04:32+00:00"
        );
        assert_eq!(
            unix(&format_timestamp(
                UNIX_EPOCH + Duration::from_secs(1_707_343_472)
            )),
            want
        );
    }
}
