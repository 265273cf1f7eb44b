//! WAL read locks kept between a process's read transactions.
//!
//! In WAL mode every read transaction takes a shared lock on one of five bytes of the `-shm`
//! file (a "read mark", bytes 123–127) and releases it at its end. For the first reader of
//! the process that is an `fcntl` call each way, made while holding a mutex that every
//! connection of the process shares; at tens of thousands of reads a second the two calls and
//! the waits on that mutex took a seventh of a read by id.
//!
//! [`keep_read_locks`] replaces SQLite's `fcntl` and `close` so that the process keeps such a
//! lock for a moment after its last reader released it: the next reader finds it held and
//! takes it without a system call. A lock nobody has used for [`IDLE`] is released by a thread
//! of this module, and one held for [`MAX_HOLD`] is released at its next release, so that
//! other processes (the command-line tool, `sqlite3`) can still checkpoint the WAL and restart
//! it as before once the server's reads pause. Within the process nothing changes: SQLite
//! counts its connections' locks itself before it asks the system, and a process never
//! conflicts with its own locks (an exclusive lock of one of its connections converts the
//! kept one).

use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// How long a lock that no reader uses is kept.
///
/// Shorter than the 5 ms between the server's looks at its configuration, which read the
/// database, so that an idle server holds no lock most of the time.
pub const IDLE: Duration = Duration::from_millis(1);

/// How long a lock is kept at most before it is released at its next release, also when
/// readers use it without pause.
pub const MAX_HOLD: Duration = Duration::from_millis(100);

/// Installs the kept read locks, once per process; answers whether they are in use.
pub fn keep_read_locks() -> bool {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    *INSTALLED.get_or_init(install)
}

/// The read locks the process holds on `-shm` files, in use by a reader or kept, as (file
/// descriptor, byte).
pub fn read_locks() -> Vec<(i32, i64)> {
    state().locks.iter().map(|l| (l.fd, l.byte)).collect()
}

/// The first and last byte of the `-shm` file that readers lock: `UNIX_SHM_BASE` (120) plus
/// `WAL_READ_LOCK(0)` (3), to the last of the `WAL_NREADER` (5) read marks.
const READ_BYTES: std::ops::RangeInclusive<i64> = 123..=127;

/// A read lock the process holds on a `-shm` file.
struct Held {
    fd: i32,
    byte: i64,
    /// A connection holds it (SQLite asked for it and has not released it).
    in_use: bool,
    /// When the system granted it.
    since: Instant,
    /// When SQLite last released it.
    released: Instant,
}

struct State {
    locks: Vec<Held>,
}

static STATE: Mutex<State> = Mutex::new(State { locks: Vec::new() });

/// Wakes the releasing thread when the system granted a read lock.
static GRANTED: Condvar = Condvar::new();

fn state() -> MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Releases the locks no reader has used for [`IDLE`], as long as the process runs.
fn release_idle(unlock: fn(i32, i64)) {
    let mut state = state();
    loop {
        let now = Instant::now();
        state.locks.retain(|l| {
            let idle = !l.in_use && now.duration_since(l.released) >= IDLE;
            if idle {
                unlock(l.fd, l.byte);
            }
            !idle
        });
        // The next lock to fall idle; one in use is looked at again after `IDLE`.
        let next = state
            .locks
            .iter()
            .map(|l| {
                if l.in_use {
                    IDLE
                } else {
                    IDLE.saturating_sub(now.duration_since(l.released))
                }
            })
            .min();
        state = match next {
            None => GRANTED.wait(state).unwrap_or_else(PoisonError::into_inner),
            Some(wait) => {
                GRANTED
                    .wait_timeout(state, wait.max(Duration::from_micros(100)))
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
        };
    }
}

/// Answers SQLite's `F_SETLK` of `len` bytes from `start`, of `kind`, on `fd` from the kept
/// locks when it can (`true`, `state` updated); `false` when the system must be asked (and
/// [`granted`] told when it grants).
fn answered(state: &mut State, fd: i32, kind: i32, start: i64, len: i64, now: Instant) -> bool {
    if len != 1 || !READ_BYTES.contains(&start) {
        return false;
    }
    let Some(held) = state
        .locks
        .iter_mut()
        .find(|l| l.fd == fd && l.byte == start)
    else {
        return false;
    };
    if kind == libc::F_RDLCK {
        held.in_use = true;
        return true;
    }
    if kind == libc::F_UNLCK && held.in_use && now.duration_since(held.since) < MAX_HOLD {
        held.in_use = false;
        held.released = now;
        return true;
    }
    false
}

/// Records a lock the system granted: what it covers is no longer kept (an exclusive lock
/// converted it, or it was released), and a read lock of one read byte is held.
fn granted(state: &mut State, fd: i32, kind: i32, start: i64, len: i64, now: Instant) -> bool {
    let end = if len == 0 { i64::MAX } else { start + len };
    state
        .locks
        .retain(|l| l.fd != fd || l.byte < start || l.byte >= end);
    if kind == libc::F_RDLCK && len == 1 && READ_BYTES.contains(&start) {
        state.locks.push(Held {
            fd,
            byte: start,
            in_use: true,
            since: now,
            released: now,
        });
        return true;
    }
    false
}

/// `close`: a closed descriptor holds no locks any more.
fn closed(fd: i32) {
    state().locks.retain(|l| l.fd != fd);
}

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
fn install() -> bool {
    system::install()
}

#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
fn install() -> bool {
    false
}

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
#[allow(unsafe_code)]
mod system {
    use libc::{c_int, c_void};
    use std::time::Instant;

    type Syscall = unsafe extern "C" fn();
    type FcntlFn = unsafe extern "C" fn(c_int, c_int, *mut c_void) -> c_int;
    type CloseFn = unsafe extern "C" fn(c_int) -> c_int;

    pub(super) fn install() -> bool {
        // The thread that releases idle locks, before any lock is kept.
        let releaser = std::thread::Builder::new()
            .name("sqlite-read-locks".into())
            .stack_size(64 << 10)
            .spawn(|| super::release_idle(unlock));
        if releaser.is_err() {
            return false;
        }
        // SAFETY: SQLite calls `fcntl` as the variadic `int (*)(int, int, ...)` with one
        // argument after the command (an `int` or a pointer); on 64-bit Linux a variadic
        // argument arrives in the register a fixed one does, and `fcntl` below passes it on whole to
        // the variadic `fcntl`, which reads it as the command says. `close` has its own
        // signature.
        let replacements: [(&std::ffi::CStr, Syscall); 2] = unsafe {
            [
                (
                    c"fcntl",
                    std::mem::transmute::<FcntlFn, Syscall>(fcntl as FcntlFn),
                ),
                (
                    c"close",
                    std::mem::transmute::<CloseFn, Syscall>(close as CloseFn),
                ),
            ]
        };
        crate::replace(&replacements)
    }

    /// Releases the read lock of `byte` on `fd`.
    fn unlock(fd: c_int, byte: i64) {
        let mut lock = flock(libc::F_UNLCK, byte, 1);
        // SAFETY: a lock request on a descriptor SQLite keeps open until `close` (which
        // forgets its locks under the same mutex first), with a `flock` this function owns.
        unsafe { libc::fcntl(fd, libc::F_SETLK, &mut lock) };
    }

    fn flock(kind: c_int, start: i64, len: i64) -> libc::flock {
        // SAFETY: `flock` is plain data, for which zeroes are valid.
        let mut lock: libc::flock = unsafe { std::mem::zeroed() };
        lock.l_type = kind as libc::c_short;
        lock.l_whence = libc::SEEK_SET as libc::c_short;
        lock.l_start = start;
        lock.l_len = len;
        lock
    }

    /// SQLite's `fcntl`: a lock request on the read bytes of a file is answered from the kept
    /// locks when it can be; everything else goes to the system as asked.
    unsafe extern "C" fn fcntl(fd: c_int, cmd: c_int, arg: *mut c_void) -> c_int {
        if cmd != libc::F_SETLK || arg.is_null() {
            // SAFETY: the call as SQLite made it.
            return unsafe { libc::fcntl(fd, cmd, arg) };
        }
        // SAFETY: SQLite passes a `struct flock` with `F_SETLK`.
        let (kind, whence, start, len) = unsafe {
            let lock = &*(arg as *const libc::flock);
            (
                c_int::from(lock.l_type),
                c_int::from(lock.l_whence),
                lock.l_start,
                lock.l_len,
            )
        };
        let (first, last) = (*super::READ_BYTES.start(), *super::READ_BYTES.end());
        if whence != libc::SEEK_SET || start > last || (len > 0 && start + len <= first) {
            // SAFETY: the call as SQLite made it.
            return unsafe { libc::fcntl(fd, cmd, arg) };
        }
        let now = Instant::now();
        let mut state = super::state();
        if super::answered(&mut state, fd, kind, start, len, now) {
            return 0;
        }
        // SAFETY: the call as SQLite made it.
        let rc = unsafe { libc::fcntl(fd, cmd, arg) };
        if rc == 0 && super::granted(&mut state, fd, kind, start, len, now) {
            super::GRANTED.notify_one();
        }
        rc
    }

    /// SQLite's `close`: the kept locks of `fd` go with it.
    unsafe extern "C" fn close(fd: c_int) -> c_int {
        super::closed(fd);
        // SAFETY: the call as SQLite made it.
        unsafe { libc::close(fd) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FD: i32 = 7;

    fn state_after_read(now: Instant) -> State {
        let mut state = State { locks: Vec::new() };
        assert!(!answered(&mut state, FD, libc::F_RDLCK, 124, 1, now));
        assert!(granted(&mut state, FD, libc::F_RDLCK, 124, 1, now));
        state
    }

    #[test]
    fn a_released_read_lock_is_kept_and_taken_again_without_the_system() {
        let now = Instant::now();
        let mut state = state_after_read(now);
        assert!(answered(&mut state, FD, libc::F_UNLCK, 124, 1, now));
        assert!(!state.locks[0].in_use);
        assert!(answered(&mut state, FD, libc::F_RDLCK, 124, 1, now));
        assert!(state.locks[0].in_use);
        // Another descriptor's byte, a range, the DMS byte: the system's.
        assert!(!answered(&mut state, FD + 1, libc::F_RDLCK, 124, 1, now));
        assert!(!answered(&mut state, FD, libc::F_WRLCK, 123, 5, now));
        assert!(!answered(&mut state, FD, libc::F_RDLCK, 128, 1, now));
    }

    #[test]
    fn a_lock_held_past_the_longest_hold_is_released_at_its_next_release() {
        let then = Instant::now();
        let mut state = state_after_read(then);
        let later = then + MAX_HOLD;
        assert!(!answered(&mut state, FD, libc::F_UNLCK, 124, 1, later));
        // The system released it: no longer held.
        assert!(!granted(&mut state, FD, libc::F_UNLCK, 124, 1, later));
        assert!(state.locks.is_empty());
    }

    #[test]
    fn an_exclusive_lock_granted_over_a_kept_one_ends_it() {
        let now = Instant::now();
        let mut state = state_after_read(now);
        assert!(answered(&mut state, FD, libc::F_UNLCK, 124, 1, now));
        // A connection of the process locks every read mark: the system converts the kept
        // lock, whose release is then SQLite's again.
        assert!(!granted(&mut state, FD, libc::F_WRLCK, 123, 5, now));
        assert!(state.locks.is_empty());
        assert!(!answered(&mut state, FD, libc::F_UNLCK, 124, 1, now));
    }
}
