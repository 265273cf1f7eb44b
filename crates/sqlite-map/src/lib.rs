//! One memory map of each SQLite database file per process, shared by all its connections.
//!
//! SQLite reads a database through a memory map of the file when `PRAGMA mmap_size` allows it,
//! one map per connection. The kernel counts a file page in a process's resident memory once
//! per mapping that touched it, so a pool of eight connections that each scanned a 15 MB table
//! showed 80 MB of `RssFile` for it; and in WAL mode every commit makes the other connections
//! drop their map at their next read and fault its pages in again.
//!
//! SQLite's unix VFS lets a process replace the system calls it maps files with
//! (`xSetSystemCall`). [`share`] replaces `mmap`, `munmap` and `mremap` so that every
//! read-only map of a regular file from its start is the same mapping of the file, of a fixed
//! size, counted, and unmapped when the last connection lets go of it. A connection reads the
//! same pages of the same file at the same offsets as through a map of its own: a shared
//! mapping of a file shows what the file holds, and SQLite reads no further than the size it
//! asked for. Anything else (a map at an offset, a writable one, the `-shm` file's, a map larger
//! than the shared one) is passed to the system as asked. Linux only; elsewhere [`share`]
//! changes nothing.
//!
//! [`keep_read_locks`] replaces `fcntl` and `close` the same way, so that reads in a row take
//! their WAL read lock without a system call (see its module, `locks`). Linux on 64-bit only.

mod locks;

pub use locks::{IDLE, MAX_HOLD, keep_read_locks, read_locks};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

/// Installs the shared maps, once per process; answers whether they are in use.
///
/// Each is `size` bytes of address space, which should be at least the largest `PRAGMA
/// mmap_size` the process sets; a connection that asks for more gets a map of its own.
/// Connections opened before keep the maps they made, which are unmapped as usual.
pub fn share(size: u64) -> bool {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    *INSTALLED.get_or_init(|| {
        let Ok(size) = usize::try_from(size) else {
            return false;
        };
        SIZE.store(size, Ordering::Relaxed);
        install()
    })
}

/// The shared maps mapped now, as the number of maps handed out of each.
pub fn shared_maps() -> Vec<usize> {
    regions().iter().map(|r| r.users).collect()
}

/// The size of each shared map, set once by [`share`].
static SIZE: AtomicUsize = AtomicUsize::new(0);

/// How often at most a shared map lets go of the pages it has touched (see `hooks::unmap`).
const FORGET_EVERY: std::time::Duration = std::time::Duration::from_millis(50);

/// A shared map of one file.
struct Region {
    /// The file's device and inode.
    file: (u64, u64),
    start: usize,
    len: usize,
    /// Maps handed out and not unmapped yet.
    users: usize,
    /// When its pages were last let go of.
    forgot: std::time::Instant,
}

impl Region {
    fn holds(&self, addr: usize) -> bool {
        addr >= self.start && addr - self.start < self.len
    }
}

static REGIONS: Mutex<Vec<Region>> = Mutex::new(Vec::new());

fn regions() -> std::sync::MutexGuard<'static, Vec<Region>> {
    REGIONS.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn install() -> bool {
    type Syscall = unsafe extern "C" fn();
    // SAFETY: each replacement has the signature SQLite calls its system call with (`mremap`
    // is called with its four fixed arguments only, which a non-variadic function receives
    // alike on Linux's calling conventions); SQLite casts the pointer back before the call.
    let replacements: [(&std::ffi::CStr, Syscall); 3] = unsafe {
        [
            (
                c"mmap",
                std::mem::transmute::<MmapFn, Syscall>(hooks::map as MmapFn),
            ),
            (
                c"munmap",
                std::mem::transmute::<MunmapFn, Syscall>(hooks::unmap as MunmapFn),
            ),
            (
                c"mremap",
                std::mem::transmute::<MremapFn, Syscall>(hooks::remap as MremapFn),
            ),
        ]
    };
    replace(&replacements)
}

/// Replaces the unix VFS's system calls named in `replacements`, all or none.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn replace(replacements: &[(&std::ffi::CStr, unsafe extern "C" fn())]) -> bool {
    use libsqlite3_sys as ffi;
    // SAFETY: `sqlite3_vfs_find` initialises SQLite and answers its default VFS, which lives
    // as long as the process; `xSetSystemCall` swaps an entry of the unix VFS's table of system
    // calls, which every unix VFS reads at each call.
    unsafe {
        let vfs = ffi::sqlite3_vfs_find(std::ptr::null());
        let Some(set) = vfs.as_ref().and_then(|v| v.xSetSystemCall) else {
            return false;
        };
        for (name, replacement) in replacements {
            if set(vfs, name.as_ptr(), Some(*replacement)) != ffi::SQLITE_OK {
                // All or none: restore SQLite's own.
                for (name, _) in replacements {
                    set(vfs, name.as_ptr(), None);
                }
                return false;
            }
        }
    }
    true
}

#[cfg(not(target_os = "linux"))]
fn install() -> bool {
    false
}

#[cfg(target_os = "linux")]
type MmapFn = unsafe extern "C" fn(
    *mut libc::c_void,
    libc::size_t,
    libc::c_int,
    libc::c_int,
    libc::c_int,
    libc::off_t,
) -> *mut libc::c_void;
#[cfg(target_os = "linux")]
type MunmapFn = unsafe extern "C" fn(*mut libc::c_void, libc::size_t) -> libc::c_int;
#[cfg(target_os = "linux")]
type MremapFn = unsafe extern "C" fn(
    *mut libc::c_void,
    libc::size_t,
    libc::size_t,
    libc::c_int,
) -> *mut libc::c_void;

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
mod hooks {
    use super::{Region, SIZE, regions};
    use libc::{MAP_FAILED, MAP_SHARED, PROT_READ, c_int, c_void, off_t, size_t};
    use std::sync::atomic::Ordering;

    /// The device and inode of the regular file `fd` is open on.
    fn file_of(fd: c_int) -> Option<(u64, u64)> {
        // SAFETY: `fstat` writes a `stat` into memory this function owns.
        let mut stat: libc::stat = unsafe { std::mem::zeroed() };
        if unsafe { libc::fstat(fd, &mut stat) } != 0 {
            return None;
        }
        ((stat.st_mode & libc::S_IFMT) == libc::S_IFREG).then_some((stat.st_dev, stat.st_ino))
    }

    /// `mmap`: a read-only shared map of a whole file from its start is the file's shared map.
    pub(super) unsafe extern "C" fn map(
        addr: *mut c_void,
        len: size_t,
        prot: c_int,
        flags: c_int,
        fd: c_int,
        offset: off_t,
    ) -> *mut c_void {
        let size = SIZE.load(Ordering::Relaxed);
        if addr.is_null()
            && prot == PROT_READ
            && flags == MAP_SHARED
            && offset == 0
            && len <= size
            && let Some(file) = file_of(fd)
        {
            let mut regions = regions();
            if let Some(region) = regions.iter_mut().find(|r| r.file == file) {
                region.users += 1;
                return region.start as *mut c_void;
            }
            // SAFETY: a new mapping, at an address the kernel picks; pages past the end of
            // the file are not read (SQLite reads no further than `len`, at most the file).
            let start = unsafe { libc::mmap(addr, size, prot, flags, fd, 0) };
            if start != MAP_FAILED {
                regions.push(Region {
                    file,
                    start: start as usize,
                    len: size,
                    users: 1,
                    forgot: std::time::Instant::now(),
                });
                return start;
            }
        }
        // SAFETY: the call as SQLite made it.
        unsafe { libc::mmap(addr, len, prot, flags, fd, offset) }
    }

    /// `munmap`: the start of a shared map lets go of it (the last user unmaps it); a range
    /// inside one (SQLite trims a map after truncating its file) stays mapped for the others.
    ///
    /// SQLite unmaps a connection's map whenever another connection committed, which used to
    /// let go of the pages that map had touched. A shared map stays mapped while any connection
    /// holds it, so its resident pages would grow to the whole file under writes; instead, at
    /// most once per [`FORGET_EVERY`](super::FORGET_EVERY), such an unmap lets go of the shared
    /// map's pages (`MADV_DONTNEED`, which for a map of a file only drops the page table
    /// entries: the pages stay in the page cache, and the next read maps them again).
    pub(super) unsafe extern "C" fn unmap(addr: *mut c_void, len: size_t) -> c_int {
        let mut regions = regions();
        if let Some(i) = regions.iter().position(|r| r.holds(addr as usize)) {
            let region = &mut regions[i];
            if region.start != addr as usize {
                return 0;
            }
            region.users -= 1;
            if region.users > 0 {
                if region.forgot.elapsed() >= super::FORGET_EVERY {
                    region.forgot = std::time::Instant::now();
                    // SAFETY: the shared map's own range; its readers fault pages in again.
                    unsafe {
                        libc::madvise(region.start as *mut c_void, region.len, libc::MADV_DONTNEED)
                    };
                }
                return 0;
            }
            let region = regions.swap_remove(i);
            // SAFETY: the shared map, which no connection uses any more.
            return unsafe { libc::munmap(region.start as *mut c_void, region.len) };
        }
        drop(regions);
        // SAFETY: the call as SQLite made it, of a map of its own.
        unsafe { libc::munmap(addr, len) }
    }

    /// `mremap`: a shared map grows in place up to its size; beyond it the call fails, and
    /// SQLite unmaps it and maps the file anew (a map of its own, then).
    pub(super) unsafe extern "C" fn remap(
        old: *mut c_void,
        old_len: size_t,
        new_len: size_t,
        flags: c_int,
    ) -> *mut c_void {
        let regions = regions();
        if let Some(region) = regions.iter().find(|r| r.start == old as usize) {
            return if new_len <= region.len {
                old
            } else {
                MAP_FAILED
            };
        }
        drop(regions);
        // SAFETY: the call as SQLite made it, of a map of its own.
        unsafe { libc::mremap(old, old_len, new_len, flags) }
    }
}
