//! Server-sent events: a byte stream in, the `data` of each event out.
//!
//! Bytes are buffered until a newline, so an event or a multi-byte character split across network reads
//! arrives whole; each line must be UTF-8, and a length cap bounds what a misbehaving upstream can make us
//! buffer. On top sits the small part of the SSE grammar the backend uses: `data:` lines joined by
//! newlines, dispatched at a blank line; `event:`, `id:`, `retry:` and comments are ignored because the
//! JSON's own `type` is authoritative.
//!
//! Lines are cut from one buffer in place: the only allocation per event is its data. (This replaced
//! tokio-util's `LinesCodec`, which allocates a `String` for every line; the old decoder is kept in the
//! tests as the reference the new one must match on any input.)

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_util::Stream;

#[derive(Debug, thiserror::Error)]
pub enum SseError {
    #[error("upstream stream line longer than {0} bytes")]
    LineTooLong(usize),
    #[error("upstream stream is not valid UTF-8 or broke off: {0}")]
    Io(std::io::Error),
}

/// Decodes a body into the data of each event. The stream ends after the first error.
pub fn data_frames<S, E>(
    body: S,
    max_line: usize,
) -> impl Stream<Item = Result<String, SseError>> + Send
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    DataFrames {
        body: Box::pin(body),
        buf: BytesMut::new(),
        scanned: 0,
        data: String::new(),
        max_line,
        eof: false,
        done: false,
    }
}

struct DataFrames<S> {
    body: Pin<Box<S>>,
    /// Bytes received and not yet cut into lines.
    buf: BytesMut,
    /// How much of `buf` is known to hold no newline.
    scanned: usize,
    /// The data of the event being read.
    data: String,
    max_line: usize,
    eof: bool,
    done: bool,
}

fn not_utf8() -> SseError {
    SseError::Io(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        "Unable to decode input as UTF8",
    ))
}

impl<S> DataFrames<S> {
    /// One line without its `\n`: the event's data when this line ends it.
    fn line(&mut self, raw: &[u8]) -> Result<Option<String>, SseError> {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = std::str::from_utf8(raw).map_err(|_| not_utf8())?;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            if self.data.is_empty() {
                return Ok(None);
            }
            // An exact-size copy; `data` keeps its capacity for the next event.
            let event = self.data.as_str().to_owned();
            self.data.clear();
            return Ok(Some(event));
        }
        if let Some(value) = field(line, "data") {
            if !self.data.is_empty() {
                self.data.push('\n');
            }
            self.data.push_str(value);
            if self.data.len() > self.max_line {
                return Err(SseError::LineTooLong(self.max_line));
            }
        }
        Ok(None)
    }

    /// The next event from what is buffered, if a whole one is there.
    fn next_buffered(&mut self) -> Result<Option<String>, SseError> {
        while let Some(at) = memchr::memchr(b'\n', &self.buf[self.scanned..]) {
            let end = self.scanned + at;
            self.scanned = 0;
            if end > self.max_line {
                return Err(SseError::LineTooLong(self.max_line));
            }
            let line = self.buf.split_to(end + 1);
            if let Some(event) = self.line(&line[..end])? {
                return Ok(Some(event));
            }
        }
        self.scanned = self.buf.len();
        if self.buf.len() > self.max_line {
            return Err(SseError::LineTooLong(self.max_line));
        }
        Ok(None)
    }

    /// At the end of the body: a last line without a newline still counts, as a line.
    fn last_line(&mut self) -> Result<Option<String>, SseError> {
        if self.buf.is_empty() || &self.buf[..] == b"\r" {
            return Ok(None);
        }
        let rest = std::mem::take(&mut self.buf);
        self.line(&rest)
    }
}

impl<S, E> Stream for DataFrames<S>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    type Item = Result<String, SseError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            let found = match this.next_buffered() {
                Ok(None) if this.eof => {
                    this.done = true;
                    this.last_line()
                }
                other => other,
            };
            match found {
                Ok(Some(event)) => return Poll::Ready(Some(Ok(event))),
                Ok(None) if this.done => return Poll::Ready(None),
                Ok(None) => {}
                Err(e) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
            }
            match this.body.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => {
                    if this.buf.is_empty() && this.buf.capacity() < chunk.len() {
                        // Take the chunk's bytes without growing an empty buffer step by step.
                        this.buf.reserve(chunk.len());
                    }
                    this.buf.extend_from_slice(&chunk);
                }
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(SseError::Io(std::io::Error::other(e)))));
                }
                Poll::Ready(None) => this.eof = true,
            }
        }
    }
}

/// The value of `name: value` (one optional space after the colon), or `None` for another field.
fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(name)?;
    let value = rest.strip_prefix(':')?;
    Some(value.strip_prefix(' ').unwrap_or(value))
}

#[cfg(test)]
mod reference {
    //! The decoder this module had before, on tokio-util's `LinesCodec`: the behaviour to keep.
    use super::{field, SseError};
    use bytes::Bytes;
    use futures_util::{Stream, StreamExt, TryStreamExt};
    use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};
    use tokio_util::io::StreamReader;

    /// Decodes a body into the data of each event. The stream ends after the first error.
    pub(super) fn data_frames<S, E>(
        body: S,
        max_line: usize,
    ) -> impl Stream<Item = Result<String, SseError>> + Send
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: std::error::Error + Send + Sync + 'static,
    {
        let reader = StreamReader::new(Box::pin(body.map_err(std::io::Error::other)));
        let lines = FramedRead::new(reader, LinesCodec::new_with_max_length(max_line));
        futures_util::stream::unfold(Some((lines, String::new())), move |state| async move {
            let (mut lines, mut data) = state?;
            loop {
                let line = match lines.next().await {
                    None => return None,
                    Some(Ok(line)) => line,
                    Some(Err(LinesCodecError::MaxLineLengthExceeded)) => {
                        return Some((Err(SseError::LineTooLong(max_line)), None))
                    }
                    Some(Err(LinesCodecError::Io(e))) => return Some((Err(SseError::Io(e)), None)),
                };
                let line = line.strip_suffix('\r').unwrap_or(&line);
                if line.is_empty() {
                    if data.is_empty() {
                        continue;
                    }
                    let event = std::mem::take(&mut data);
                    return Some((Ok(event), Some((lines, data))));
                }
                if let Some(value) = field(line, "data") {
                    if !data.is_empty() {
                        data.push('\n');
                    }
                    data.push_str(value);
                    if data.len() > max_line {
                        return Some((Err(SseError::LineTooLong(max_line)), None));
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn run(chunks: Vec<&'static [u8]>, max: usize) -> Vec<Result<String, String>> {
        let body = futures_util::stream::iter(
            chunks
                .into_iter()
                .map(|c| Ok::<_, std::io::Error>(Bytes::from_static(c))),
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(
            data_frames(body, max)
                .map(|r| r.map_err(|e| e.to_string()))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn events_and_characters_split_anywhere_arrive_whole() {
        let text = "event: x\ndata: {\"d\":\"h\u{e9}llo \u{1f389}\"}\n\n: comment\r\ndata: a\r\ndata: b\r\n\r\n";
        let bytes = text.as_bytes();
        for cut in 1..bytes.len() {
            let (a, b) = bytes.split_at(cut);
            let a: &'static [u8] = Box::leak(a.to_vec().into_boxed_slice());
            let b: &'static [u8] = Box::leak(b.to_vec().into_boxed_slice());
            let got = run(vec![a, b], 1024);
            assert_eq!(
                got,
                vec![
                    Ok("{\"d\":\"h\u{e9}llo \u{1f389}\"}".to_string()),
                    Ok("a\nb".to_string())
                ],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn one_byte_at_a_time() {
        let text: &'static [u8] = "data: \u{65e5}\u{672c}\u{8a9e}\n\n".as_bytes();
        let chunks: Vec<&'static [u8]> = text.chunks(1).collect();
        assert_eq!(
            run(chunks, 64),
            vec![Ok("\u{65e5}\u{672c}\u{8a9e}".to_string())]
        );
    }

    #[test]
    fn overlong_lines_and_bad_utf8_end_the_stream_with_an_error() {
        let got = run(vec![b"data: 0123456789abcdef\n\n", b"data: later\n\n"], 8);
        assert_eq!(got.len(), 1);
        assert!(got[0].is_err());
        let got = run(vec![b"data: \xff\xfe\n\n"], 64);
        assert_eq!(got.len(), 1);
        assert!(got[0].is_err());
    }

    #[test]
    fn an_unterminated_last_event_is_not_dispatched() {
        assert_eq!(
            run(vec![b"data: whole\n\ndata: cut"], 64),
            vec![Ok("whole".to_string())]
        );
    }
}

#[cfg(test)]
mod fuzz {
    //! Properties of the decoder on untrusted bytes: whatever the upstream sends and however the network
    //! splits it, the decoder neither panics nor depends on the split.
    use super::*;
    use futures_util::StreamExt;
    use proptest::prelude::*;

    fn decode(chunks: Vec<Vec<u8>>, max: usize) -> Vec<Result<String, String>> {
        let body = futures_util::stream::iter(
            chunks
                .into_iter()
                .map(|c| Ok::<_, std::io::Error>(Bytes::from(c))),
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(
            data_frames(body, max)
                .map(|r| r.map_err(|e| e.to_string()))
                .collect::<Vec<_>>(),
        )
    }

    fn split(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        points.sort_unstable();
        let mut out = Vec::new();
        let mut at = 0;
        for p in points {
            out.push(bytes[at..p].to_vec());
            at = p;
        }
        out.push(bytes[at..].to_vec());
        out
    }

    proptest! {
        #[test]
        fn any_bytes_any_split_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048),
                                            cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
            let _ = decode(split(&bytes, &cuts), 256);
        }

        #[test]
        fn the_split_does_not_change_the_events(texts in proptest::collection::vec("\\PC{0,40}", 1..6),
                                                cuts in proptest::collection::vec(any::<usize>(), 0..12)) {
            let stream: String = texts.iter().map(|t| format!("event: e\ndata: {t}\n\n")).collect();
            let whole = decode(vec![stream.clone().into_bytes()], 4096);
            let pieces = decode(split(stream.as_bytes(), &cuts), 4096);
            prop_assert_eq!(&whole, &pieces);
            let expected: Vec<Result<String, String>> = texts
                .iter()
                .filter(|t| !t.is_empty())
                .map(|t| Ok(t.to_string()))
                .collect();
            prop_assert_eq!(whole, expected);
        }
    }
}

#[cfg(test)]
mod same_as_reference {
    //! The decoder gives what the `LinesCodec` decoder gave, event for event and error for error, on any
    //! bytes, any split, any length cap, with or without a broken body at the end.
    use super::*;
    use futures_util::StreamExt;
    use proptest::prelude::*;

    type Body = futures_util::stream::Iter<std::vec::IntoIter<Result<Bytes, std::io::Error>>>;

    fn body(chunks: &[Vec<u8>], broken: bool) -> Body {
        let mut items: Vec<Result<Bytes, std::io::Error>> =
            chunks.iter().map(|c| Ok(Bytes::from(c.clone()))).collect();
        if broken {
            items.push(Err(std::io::Error::other("connection reset")));
        }
        futures_util::stream::iter(items)
    }

    fn both(chunks: &[Vec<u8>], max: usize, broken: bool) -> (Vec<String>, Vec<String>) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let show = |r: Result<String, SseError>| match r {
            Ok(s) => format!("ok {s:?}"),
            Err(e) => format!("err {e}"),
        };
        let new = rt.block_on(data_frames(body(chunks, broken), max).map(show).collect());
        let old = rt.block_on(
            super::reference::data_frames(body(chunks, broken), max)
                .map(show)
                .collect(),
        );
        (new, old)
    }

    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(b"data: ".to_vec()),
            Just(b"data:".to_vec()),
            Just(b"data".to_vec()),
            Just(b"event: x".to_vec()),
            Just(b": note".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r".to_vec()),
            Just(b"\r\n".to_vec()),
            Just("\u{e9}\u{1f389}".as_bytes().to_vec()),
            Just(vec![0xff]),
            Just(vec![0xc3]),
            "[a-z{}\":, ]{0,12}".prop_map(String::into_bytes),
        ];
        proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
    }

    fn split(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        points.sort_unstable();
        let mut out = Vec::new();
        let mut at = 0;
        for p in points {
            out.push(bytes[at..p].to_vec());
            at = p;
        }
        out.push(bytes[at..].to_vec());
        out
    }

    #[test]
    fn edge_cases() {
        for (text, max) in [
            (&b"data: x\n\r\r"[..], 64),
            (b"data: x\n\n", 7),
            (b"data: x\n\n", 6),
            (b"data: 12345678", 8),
            (b"data: 1234\ndata: 5678\n\n", 8),
            (b"data: a\r\r\n\r\n", 64),
            (b"\xff\n", 64),
            (b"data: ok\n\n\xff", 64),
            (b"\r", 64),
            (b"", 64),
        ] {
            for broken in [false, true] {
                let (new, old) = both(&[text.to_vec()], max, broken);
                assert_eq!(
                    new,
                    old,
                    "{:?} max {max} broken {broken}",
                    String::from_utf8_lossy(text)
                );
            }
        }
    }

    proptest! {
        #[test]
        fn any_input_decodes_as_before(bytes in bytes(),
                                       cuts in proptest::collection::vec(any::<usize>(), 0..8),
                                       max in 1usize..48,
                                       broken in any::<bool>()) {
            let (new, old) = both(&split(&bytes, &cuts), max, broken);
            prop_assert_eq!(new, old);
        }
    }
}
