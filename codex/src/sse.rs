//! Server-sent events: a byte stream in, the `data` of each event out.
//!
//! Line framing and UTF-8 decoding are tokio-util's `LinesCodec`, which buffers bytes until a newline, so
//! an event or a multi-byte character split across network reads arrives whole, and whose length cap bounds
//! what a misbehaving upstream can make us buffer. On top sits the small part of the SSE grammar the
//! backend uses: `data:` lines joined by newlines, dispatched at a blank line; `event:`, `id:`, `retry:` and
//! comments are ignored because the JSON's own `type` is authoritative.

use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};
use tokio_util::io::StreamReader;

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

/// The value of `name: value` (one optional space after the colon), or `None` for another field.
fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(name)?;
    let value = rest.strip_prefix(':')?;
    Some(value.strip_prefix(' ').unwrap_or(value))
}

/// Test helper: decodes `chunks`, each its own network read, to the end.
#[cfg(test)]
fn decode_all(chunks: Vec<Vec<u8>>, max: usize) -> Vec<Result<String, String>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: Vec<&'static [u8]>, max: usize) -> Vec<Result<String, String>> {
        decode_all(chunks.into_iter().map(<[u8]>::to_vec).collect(), max)
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
    use proptest::prelude::*;

    fn decode(chunks: Vec<Vec<u8>>, max: usize) -> Vec<Result<String, String>> {
        decode_all(chunks, max)
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
