//! The daemon's global allocator: the system's, asking the kernel for transparent huge pages
//! (`MADV_HUGEPAGE`) on large blocks. The route engine's prefix index is one large table read at
//! random (a million routes make it about 10 MiB); on 4 KiB pages most of its lookups miss the
//! TLB. The kernel decides whether huge pages are used (`/sys/kernel/mm/transparent_hugepage`):
//! with THP off this changes nothing, with `always` it is redundant, with `madvise` (Debian's
//! default) it is what turns them on.

use std::alloc::{GlobalAlloc, Layout, System};

/// Blocks at least this large are advised: big enough to hold whole 2 MiB pages whatever
/// their alignment.
const LARGE: usize = 4 << 20;
/// The base page size the advice is rounded to.
const PAGE: usize = 4096;

/// See the module documentation.
pub struct Allocator;

// SAFETY: every call is forwarded to the system allocator with the same arguments; the only
// addition is `madvise` on whole pages inside a block just returned, which changes how the
// kernel backs the memory, not its contents or ownership.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let block = unsafe { System.alloc(layout) };
        advise(block, layout.size());
        block
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let block = unsafe { System.alloc_zeroed(layout) };
        advise(block, layout.size());
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        unsafe { System.dealloc(block, layout) }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = unsafe { System.realloc(block, layout, new_size) };
        advise(moved, new_size);
        moved
    }
}

/// Asks for huge pages on the whole pages of a large block; a refusal changes nothing.
fn advise(block: *mut u8, size: usize) {
    if block.is_null() || size < LARGE {
        return;
    }
    let start = (block as usize).next_multiple_of(PAGE);
    let end = (block as usize + size) & !(PAGE - 1);
    if end > start {
        // SAFETY: [start, end) lies inside the block the allocator just returned; MADV_HUGEPAGE
        // is advice only.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}
