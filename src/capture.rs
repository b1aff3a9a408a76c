//! A program's output kept for the record within a bound. A multi-day badblocks run writes a
//! status line a second (tens of megabytes); its first and last parts say what happened, so
//! those are kept, with the number of bytes left out between them.

use std::collections::VecDeque;

/// The first `head` and the last `tail` bytes of a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capture {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    head_cap: usize,
    tail_cap: usize,
    total: u64,
}

impl Capture {
    pub fn new(head_cap: usize, tail_cap: usize) -> Capture {
        Capture { head: Vec::new(), tail: VecDeque::new(), head_cap, tail_cap, total: 0 }
    }

    pub fn push(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let room = self.head_cap.saturating_sub(self.head.len());
        let into_head = room.min(bytes.len());
        self.head.extend_from_slice(&bytes[..into_head]);
        bytes = &bytes[into_head..];
        if bytes.len() >= self.tail_cap {
            self.tail.clear();
            self.tail.extend(&bytes[bytes.len() - self.tail_cap..]);
            return;
        }
        let overflow = (self.tail.len() + bytes.len()).saturating_sub(self.tail_cap);
        self.tail.drain(..overflow);
        self.tail.extend(bytes);
    }

    /// Every byte seen.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Bytes left out between the head and the tail.
    pub fn omitted(&self) -> u64 {
        self.total - self.head.len() as u64 - self.tail.len() as u64
    }

    /// The kept bytes, with a line saying how much was left out where it was.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = self.head.clone();
        if self.omitted() > 0 {
            out.extend_from_slice(
                format!("\n[… {} bytes left out …]\n", self.omitted()).as_bytes(),
            );
        }
        out.extend(self.tail.iter());
        out
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_output_is_kept_whole() {
        let mut capture = Capture::new(8, 8);
        capture.push(b"hello ");
        capture.push(b"world");
        assert_eq!(capture.bytes(), b"hello world");
        assert_eq!((capture.total(), capture.omitted()), (11, 0));
    }

    #[test]
    fn large_output_keeps_its_head_and_tail_however_it_arrives() {
        let data: Vec<u8> = (0..1000u32).map(|i| b'a' + (i % 26) as u8).collect();
        for chunk in [1, 3, 17, 100, 1000] {
            let mut capture = Capture::new(10, 20);
            for part in data.chunks(chunk) {
                capture.push(part);
            }
            let kept = capture.bytes();
            assert!(kept.starts_with(&data[..10]), "chunk {chunk}");
            assert!(kept.ends_with(&data[980..]), "chunk {chunk}");
            assert_eq!(capture.omitted(), 970, "chunk {chunk}");
            assert!(String::from_utf8_lossy(&kept).contains("970 bytes left out"));
        }
    }
}
