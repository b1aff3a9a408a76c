//! The badblocks parser must not panic, and must give the same events whether a stream arrives
//! whole or in chunks. The first input byte seeds the chunk sizes; the rest is the stream, fed
//! to stderr and to stdout.
#![no_main]

use burnin::badblocks::BadblocksParser;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&seed, stream)) = data.split_first() else { return };
    let mut whole = BadblocksParser::default();
    let expected_err = whole.feed_stderr(stream);
    let expected_out = whole.feed_stdout(stream);

    let mut chunked = BadblocksParser::default();
    let (mut events_err, mut events_out) = (Vec::new(), Vec::new());
    let mut size = usize::from(seed % 17) + 1;
    let mut rest = stream;
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        events_err.extend(chunked.feed_stderr(chunk));
        events_out.extend(chunked.feed_stdout(chunk));
        rest = tail;
        size = size * 7 % 23 + 1;
    }
    assert_eq!(events_err, expected_err);
    assert_eq!(events_out, expected_out);
    let percent = chunked.overall_percent();
    assert!((0.0..=100.0).contains(&percent));
});
