//! Size limits, ctlstore's defaults (`pkg/limits/limits.go`). One place, so the executive, the
//! ctldb and the docs agree.

/// Largest accepted HTTP request body.
pub const MAX_REQUEST_BODY_BYTES: usize = 1024 * 1024;
/// Largest rendered ledger statement (ctlstore: `LimitMaxDMLSize`).
pub const MAX_DML_BYTES: usize = 768 * 1024;
/// Largest single field value (ctlstore defines `LimitFieldValueSize` but never checks it; we do).
pub const MAX_FIELD_VALUE_BYTES: usize = 512 * 1024;
/// Most mutations in one request.
pub const MAX_MUTATIONS_PER_REQUEST: usize = 100;
/// Largest writer cookie.
pub const MAX_COOKIE_BYTES: usize = 1024;
/// A `string` field is `VARCHAR(191)`: at most this many characters.
pub const MAX_STRING_CHARS: usize = 191;
/// A `bytestring` field is `VARBINARY(255)`: at most this many bytes.
pub const MAX_BYTESTRING_BYTES: usize = 255;
