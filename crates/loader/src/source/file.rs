//! `file:PATH` and `-` (stdin): JSON lines of Debezium envelopes, for backfills and replays.
//! The position is the line number; blank lines count but carry nothing.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};

use super::{DebeziumStream, Next};
use crate::error::LoaderError;
use crate::position::{Mark, Position};

pub struct FileSource {
    lines: Lines<Box<dyn tokio::io::AsyncBufRead + Unpin + Send>>,
    line: u64,
    stream: DebeziumStream,
    ended: bool,
}

impl FileSource {
    pub async fn open(
        path: Option<&std::path::Path>,
        position: Option<&Position>,
    ) -> Result<FileSource, LoaderError> {
        let reader: Box<dyn tokio::io::AsyncBufRead + Unpin + Send> = match path {
            Some(path) => {
                let file = tokio::fs::File::open(path).await.map_err(|e| {
                    LoaderError::Config(format!("--source file:{}: {e}", path.display()))
                })?;
                Box::new(BufReader::new(file))
            }
            None => Box::new(BufReader::new(tokio::io::stdin())),
        };
        let mut source = FileSource {
            lines: reader.lines(),
            line: 0,
            stream: DebeziumStream::default(),
            ended: false,
        };
        // Lines already applied are read past without decoding.
        if let Some(Position::File(applied)) = position {
            while source.line < *applied {
                match source
                    .lines
                    .next_line()
                    .await
                    .map_err(|e| LoaderError::Source(e.to_string()))?
                {
                    Some(_) => source.line += 1,
                    None => break,
                }
            }
        }
        Ok(source)
    }

    pub async fn next(&mut self, wait: Duration) -> Result<Next, LoaderError> {
        loop {
            if let Some(item) = self.stream.pop() {
                return Ok(Next::Item(item));
            }
            if self.ended {
                return Ok(Next::End);
            }
            // `next_line` is cancel-safe, so a timeout loses nothing (stdin may be slow).
            match tokio::time::timeout(wait, self.lines.next_line()).await {
                Err(_) => {
                    self.stream.idle();
                    if self.stream.pending() == 0 {
                        return Ok(Next::Idle);
                    }
                }
                Ok(Err(e)) => {
                    return Err(LoaderError::Source(format!(
                        "reading line {}: {e}",
                        self.line + 1
                    )));
                }
                Ok(Ok(None)) => {
                    self.stream.idle();
                    self.ended = true;
                }
                Ok(Ok(Some(text))) => {
                    self.line += 1;
                    if text.trim().is_empty() {
                        continue;
                    }
                    let mark = Mark::File { line: self.line };
                    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                        LoaderError::Halt(format!("line {}: not JSON: {e}", self.line))
                    })?;
                    let (key, value) = crate::debezium::split_line(&json);
                    self.stream
                        .push_json(mark, key, value)
                        .map_err(LoaderError::Halt)?;
                }
            }
        }
    }
}
