// jemalloc's options for dxs-store and dxs-frontend, linked into both when they are
// built with jemalloc (meson's -Dallocator=jemalloc, the default). jemalloc reads this
// symbol when the process starts; MALLOC_CONF in the environment still overrides it.
//
// Freed pages go back to the kernel as soon as they are free (dirty and muzzy decay 0),
// not after jemalloc's default 10 s. Without a background thread, which would wake an
// idle daemon, jemalloc purges only when it is next called: a store gone quiet after a
// burst (a thousand guests created, then nothing) would keep the burst's peak resident:
// half as much again per node of a 100 000-node tree as with glibc's malloc. With decay
// 0 it holds half of glibc's; the few madvise calls it costs fall on the large blocks
// (memtables, the block cache's), not on the request path's small ones, which thread
// caches serve. docs/performance.md, "jemalloc for both daemons", has the figures.
extern "C" {
extern const char* malloc_conf;
const char* malloc_conf = "dirty_decay_ms:0,muzzy_decay_ms:0";
}
