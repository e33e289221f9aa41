//! The frontend/backend protocol's framing (version 3.0): encoding the messages we send and
//! cutting the byte stream we receive into messages. Pure: no I/O here.

use crate::SourceError;
use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Protocol version 3.0, as the startup packet spells it.
const PROTOCOL_VERSION: i32 = 196_608;

/// Refuse absurd lengths instead of trying to allocate them: no legitimate message comes close
/// (a row is at most ~1 GB of field data, and the server caps messages below that).
const MAX_MESSAGE_LEN: usize = 1 << 30;

/// One message from the server: its type byte and its body (without the length word).
#[derive(Debug, Clone)]
pub(crate) struct BackendMessage {
    pub tag: u8,
    pub body: Bytes,
}

/// Takes one complete message off the front of `buf`, or `None` if more bytes are needed.
/// Nothing is consumed until a message is complete, which is what makes reading cancel-safe.
pub(crate) fn take_message(buf: &mut BytesMut) -> Result<Option<BackendMessage>, SourceError> {
    if buf.len() < 5 {
        return Ok(None);
    }
    let tag = buf[0];
    let len = i32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]);
    let len = usize::try_from(len)
        .ok()
        .filter(|len| (4..=MAX_MESSAGE_LEN).contains(len))
        .ok_or_else(|| {
            SourceError::protocol(format!("message '{}' has length {len}", tag as char))
        })?;
    if buf.len() < 1 + len {
        buf.reserve(1 + len - buf.len());
        return Ok(None);
    }
    buf.advance(5);
    let body = buf.split_to(len - 4).freeze();
    Ok(Some(BackendMessage { tag, body }))
}

/// Appends a typed message: tag, length (including itself), body written by `fill`.
fn message(out: &mut BytesMut, tag: u8, fill: impl FnOnce(&mut BytesMut)) {
    out.put_u8(tag);
    let at = out.len();
    out.put_i32(0);
    fill(out);
    patch_len(out, at);
}

fn patch_len(out: &mut BytesMut, at: usize) {
    let len = i32::try_from(out.len() - at).unwrap_or(i32::MAX);
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

fn put_cstr(out: &mut BytesMut, text: &str) {
    out.put_slice(text.as_bytes());
    out.put_u8(0);
}

/// The startup packet: no type byte, protocol version, then name/value pairs.
pub(crate) fn startup(out: &mut BytesMut, params: &[(&str, &str)]) {
    let at = out.len();
    out.put_i32(0);
    out.put_i32(PROTOCOL_VERSION);
    for (name, value) in params {
        put_cstr(out, name);
        put_cstr(out, value);
    }
    out.put_u8(0);
    patch_len(out, at);
}

/// `PasswordMessage` carrying a cleartext or MD5 password.
pub(crate) fn password(out: &mut BytesMut, password: &str) {
    message(out, b'p', |out| put_cstr(out, password));
}

/// `SASLInitialResponse`.
pub(crate) fn sasl_initial_response(out: &mut BytesMut, mechanism: &str, data: &[u8]) {
    message(out, b'p', |out| {
        put_cstr(out, mechanism);
        out.put_i32(i32::try_from(data.len()).unwrap_or(i32::MAX));
        out.put_slice(data);
    });
}

/// `SASLResponse`.
pub(crate) fn sasl_response(out: &mut BytesMut, data: &[u8]) {
    message(out, b'p', |out| out.put_slice(data));
}

/// `Query` (simple query protocol).
pub(crate) fn query(out: &mut BytesMut, sql: &str) {
    message(out, b'Q', |out| put_cstr(out, sql));
}

/// `CopyData`.
pub(crate) fn copy_data(out: &mut BytesMut, data: &[u8]) {
    message(out, b'd', |out| out.put_slice(data));
}

/// `CopyDone`.
pub(crate) fn copy_done(out: &mut BytesMut) {
    message(out, b'c', |_| {});
}

/// `Terminate`.
pub(crate) fn terminate(out: &mut BytesMut) {
    message(out, b'X', |_| {});
}

/// A cursor over a message body that turns running off the end into a protocol error.
pub(crate) struct BodyReader<'a> {
    bytes: &'a [u8],
    what: &'static str,
}

impl<'a> BodyReader<'a> {
    /// `what` names the message, for error text.
    pub(crate) fn new(bytes: &'a [u8], what: &'static str) -> BodyReader<'a> {
        BodyReader { bytes, what }
    }

    fn short(&self) -> SourceError {
        SourceError::protocol(format!("{} message is truncated", self.what))
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.bytes)
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], SourceError> {
        if self.bytes.len() < n {
            return Err(self.short());
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], SourceError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, SourceError> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn i16(&mut self) -> Result<i16, SourceError> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    pub(crate) fn i32(&mut self) -> Result<i32, SourceError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, SourceError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn i64(&mut self) -> Result<i64, SourceError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, SourceError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A NUL-terminated string, which must be UTF-8 (we always ask for `client_encoding=UTF8`).
    pub(crate) fn cstr(&mut self) -> Result<String, SourceError> {
        let end = self
            .bytes
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| self.short())?;
        let text = std::str::from_utf8(&self.bytes[..end])
            .map_err(|_| {
                SourceError::protocol(format!(
                    "{} message holds text that is not UTF-8",
                    self.what
                ))
            })?
            .to_owned();
        self.bytes = &self.bytes[end + 1..];
        Ok(text)
    }
}

/// The fields of an `ErrorResponse` or `NoticeResponse` we use.
#[derive(Debug, Default)]
pub(crate) struct ErrorFields {
    pub severity: String,
    pub code: String,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

pub(crate) fn parse_error_fields(body: &[u8]) -> Result<ErrorFields, SourceError> {
    let mut reader = BodyReader::new(body, "ErrorResponse");
    let mut fields = ErrorFields::default();
    loop {
        let kind = reader.u8()?;
        if kind == 0 {
            return Ok(fields);
        }
        let value = reader.cstr()?;
        match kind {
            // 'V' is the untranslated severity (9.6+); prefer it over the localised 'S'.
            b'V' => fields.severity = value,
            b'S' if fields.severity.is_empty() => fields.severity = value,
            b'C' => fields.code = value,
            b'M' => fields.message = value,
            b'D' => fields.detail = Some(value),
            b'H' => fields.hint = Some(value),
            _ => {}
        }
    }
}

impl From<ErrorFields> for SourceError {
    fn from(fields: ErrorFields) -> SourceError {
        let detail = match (fields.detail, fields.hint) {
            (Some(d), Some(h)) => Some(format!("{d}; hint: {h}")),
            (Some(d), None) => Some(d),
            (None, Some(h)) => Some(format!("hint: {h}")),
            (None, None) => None,
        };
        SourceError::Server {
            code: fields.code,
            message: fields.message,
            detail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_through_take_message() {
        let mut out = BytesMut::new();
        query(&mut out, "SELECT 1");
        copy_done(&mut out);
        let q = take_message(&mut out)
            .expect("valid test input")
            .expect("valid test input");
        assert_eq!((q.tag, &q.body[..]), (b'Q', &b"SELECT 1\0"[..]));
        let c = take_message(&mut out)
            .expect("valid test input")
            .expect("valid test input");
        assert_eq!((c.tag, c.body.len()), (b'c', 0));
        assert!(take_message(&mut out).expect("valid test input").is_none());
    }

    #[test]
    fn waits_for_a_whole_message() {
        let mut full = BytesMut::new();
        query(&mut full, "SELECT 1");
        let mut partial = BytesMut::from(&full[..7]);
        assert!(
            take_message(&mut partial)
                .expect("valid test input")
                .is_none()
        );
        assert_eq!(partial.len(), 7, "nothing consumed");
        partial.extend_from_slice(&full[7..]);
        assert!(
            take_message(&mut partial)
                .expect("valid test input")
                .is_some()
        );
    }

    #[test]
    fn rejects_bad_lengths() {
        let mut buf = BytesMut::from(&[b'D', 0, 0, 0, 2][..]);
        assert!(matches!(
            take_message(&mut buf),
            Err(SourceError::Protocol(_))
        ));
        let mut buf = BytesMut::from(&[b'D', 0x7f, 0xff, 0xff, 0xff][..]);
        assert!(matches!(
            take_message(&mut buf),
            Err(SourceError::Protocol(_))
        ));
    }

    #[test]
    fn parses_error_fields() {
        let body = b"SERROR\0VERROR\0C55006\0Mreplication slot \"s\" is active for PID 42\0\0";
        let f = parse_error_fields(body).expect("valid test input");
        assert_eq!((f.severity.as_str(), f.code.as_str()), ("ERROR", "55006"));
        assert!(f.message.ends_with("PID 42"));
    }
}
