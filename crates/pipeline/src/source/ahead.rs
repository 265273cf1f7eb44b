//! Reading ahead: a source that says it may ([`Source::read_ahead`]) reads its next pages on a
//! thread of its own while the run maps and writes the page before.
//!
//! A page fetched over the network, then parsed, costs about as much as writing it; done one
//! after the other, each waits for the other. [`Ahead`] keeps at most [`PAGES_AHEAD`] pages
//! read and not yet handed out, so memory stays a few pages whatever the volume. Pages, the
//! end and a failure reach the run in the source's order: a failure is reported where the
//! run would have met it, after the pages before it were written.

use std::sync::mpsc::{Receiver, sync_channel};

use crate::source::{Page, Source, SourceError};

/// Pages read and waiting, besides the one the thread is reading.
pub const PAGES_AHEAD: usize = 1;

/// A source whose pages are read on a thread of its own, ahead of the run.
pub struct Ahead {
    pages: Receiver<Result<Option<Page>, SourceError>>,
    /// The source ended (or failed): nothing more will come.
    ended: bool,
}

impl Ahead {
    /// Starts reading `source` on a thread of its own.
    ///
    /// The thread ends after the source's last page or its failure, or, once the `Ahead` is
    /// dropped, after the page it is reading.
    pub fn start(mut source: Box<dyn Source>) -> std::io::Result<Self> {
        let (send, pages) = sync_channel(PAGES_AHEAD);
        std::thread::Builder::new()
            .name("pipeline-source".into())
            .spawn(move || {
                loop {
                    let page = source.next_page();
                    let last = !matches!(page, Ok(Some(_)));
                    // A closed channel: the run is over and wants no more pages.
                    if send.send(page).is_err() || last {
                        break;
                    }
                }
            })?;
        Ok(Ahead {
            pages,
            ended: false,
        })
    }
}

impl Source for Ahead {
    fn next_page(&mut self) -> Result<Option<Page>, SourceError> {
        if self.ended {
            return Ok(None);
        }
        let page = self.pages.recv().unwrap_or_else(|_| {
            Err(SourceError::Other(
                "the thread that read the source stopped unexpectedly".into(),
            ))
        });
        self.ended = !matches!(page, Ok(Some(_)));
        page
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use serde_json::json;

    use super::*;

    /// Pages 1..=3, then a failure; counts the pages asked for.
    struct Counted(Arc<AtomicUsize>);

    impl Source for Counted {
        fn next_page(&mut self) -> Result<Option<Page>, SourceError> {
            let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
            if n > 3 {
                return Err(SourceError::Other("page 4 is broken".into()));
            }
            Ok(Some(Page {
                records: vec![json!({ "page": n })],
                ..Page::default()
            }))
        }
    }

    #[test]
    fn pages_come_in_order_and_no_further_ahead_than_allowed() {
        let asked = Arc::new(AtomicUsize::new(0));
        let mut ahead = Ahead::start(Box::new(Counted(asked.clone()))).unwrap();
        let first = ahead.next_page().unwrap().unwrap();
        assert_eq!(first.records, vec![json!({ "page": 1 })]);
        // While page 1 is "written", the thread reads on, but only so far.
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(asked.load(Ordering::SeqCst), 1 + PAGES_AHEAD + 1);
        for n in 2..=3 {
            let page = ahead.next_page().unwrap().unwrap();
            assert_eq!(page.records, vec![json!({ "page": n })]);
        }
        // The failure comes where the run would have met it, and then nothing more.
        assert_eq!(
            ahead.next_page(),
            Err(SourceError::Other("page 4 is broken".into()))
        );
        assert_eq!(ahead.next_page(), Ok(None));
        assert_eq!(asked.load(Ordering::SeqCst), 4);
    }
}
