/* Private to the audit module. */
#ifndef CV_AUDIT_INTERNAL_H
#define CV_AUDIT_INTERNAL_H

#include <pthread.h>

#include "../keys/keys.h"
#include "audit.h"
#include "note.h"

#define AUDIT_LEVELS 64
#define AUDIT_RING 4096

/* The log's files in PostgreSQL (io_pg.c): a handle's "fds" there. */
enum {
	AUDIT_PG_ENTRIES, AUDIT_PG_OFFSETS, AUDIT_PG_CKPT, AUDIT_PG_LEVEL0,
	AUDIT_PG_FILES = AUDIT_PG_LEVEL0 + AUDIT_LEVELS
};
struct audit_pg;

struct cv_audit {
	char dir[1100];		/* DIR/audit */
	char origin[CV_NOTE_NAME_MAX + 1];
	struct cv_audit_signer signer;	/* checkpoints: the only key use */
	int fd_entries, fd_offsets, fd_ckpt, fd_lock;
	int fd_level[AUDIT_LEVELS];
	uint64_t size, end;	/* entries, and where the last one ends */
	uint8_t edge[AUDIT_LEVELS][CV_HASH_BYTES];	/* left siblings */
	/* tree levels (bit l) and offsets written since their last sync, so
	 * that a checkpoint syncs only those; all when another process
	 * wrote (under io) */
	uint64_t dirty;
	int offsets_dirty;
	pthread_mutex_t io;	/* with flock: one user of the files */
	/* One checkpointer at a time: each syncs the files the others
	 * assume synced, so none may sign before the other's syncs end. */
	pthread_mutex_t ckpt_mu;
	/* group commit */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct cv_buf open, spare;
	size_t open_n;
	int64_t open_batch, committed_batch;
	int committing;
	/* each batch's indices, an entry's own (staged on PostgreSQL, a
	 * batch's may not be contiguous); freed when the slot is reused */
	uint64_t *idx[AUDIT_RING];
	int64_t ring_batch[AUDIT_RING];	/* whose slot it is now */
	cv_err errs[AUDIT_RING];
	/* cv_audit_submit: a queue and the thread that commits it */
	pthread_mutex_t qmu;
	pthread_cond_t qcv, qcv_tick;
	pthread_t committer;
	int committer_on, committer_stop;
	void (*on_batch)(void *);	/* cv_audit_on_batch */
	void *on_batch_ctx;
	pthread_t checkpointer;		/* checkpoints for submitted entries */
	pthread_t mover;		/* staged entries into the log (pg) */
	int mover_on;			/* atomic */
	int ckpt_err;			/* atomic: its last result (cv_err) */
	int broken;	/* a failed append could not be cut (under io) */
	/* NULL: files in DIR/audit. Else large objects in PostgreSQL, and
	 * the fds above are AUDIT_PG_* (lock: -1). */
	struct audit_pg *pg;
	int stale;	/* memory may be ahead of the log: reload (under io) */
	int readonly;	/* opened so: nothing is moved (cv_audit_settle) */
	struct cv_buf queue;
	struct audit_waiter *waiters;
	size_t nwaiters, waiters_cap;
};

struct audit_waiter {
	cv_audit_done_fn *done;
	void *ctx;
};

/* Appends N framed leaves durably; IDX (N of them, the caller's) gets each
 * one's index. On failure nothing of them counts. */
cv_err audit_write_batch(struct cv_audit *a, const uint8_t *frames,
    size_t flen, size_t n, uint64_t *idx) CV_MUST_CHECK;
/* The length-prefixed frame of E appended to B. */
cv_err audit_frame(const struct cv_audit_entry *e,
    struct cv_buf *b) CV_MUST_CHECK;
/* Stops the committer after it has finished everything queued. */
void audit_committer_stop(struct cv_audit *a);

/*
 * Exclusive (LOCK_EX) or shared (LOCK_SH) access to the files. The
 * unlock of what was written under the lock is its durability point in
 * PostgreSQL (COMMIT): its failure means nothing of it was kept; after
 * reads only, it can be ignored. audit_abort keeps nothing written under
 * the lock (PostgreSQL; files are cut by their callers).
 */
cv_err audit_lock(struct cv_audit *a, int how) CV_MUST_CHECK;
cv_err audit_unlock(struct cv_audit *a);
void audit_abort(struct cv_audit *a);
/* The size of the file behind FD; its truncation to LEN (under the
 * exclusive lock). */
cv_err audit_size(struct cv_audit *a, int fd, uint64_t *size) CV_MUST_CHECK;
cv_err audit_truncate(struct cv_audit *a, int fd,
    uint64_t len) CV_MUST_CHECK;
cv_err audit_pread(struct cv_audit *a, int fd, void *buf, size_t len,
    uint64_t off) CV_MUST_CHECK;
/* CV_ERR_IO naming the full path of the file behind FD and errno. */
cv_err audit_io_fail(struct cv_audit *a, int fd, const char *what);
/* CV_ERR_IO naming DIR/audit/tree/LEVEL, which could not be opened. */
cv_err audit_level_fail(struct cv_audit *a, unsigned level);
cv_err audit_pwrite(struct cv_audit *a, int fd, const void *buf, size_t len,
    uint64_t off) CV_MUST_CHECK;
cv_err audit_sync(struct cv_audit *a, int fd) CV_MUST_CHECK;
/* A checkpoint if the last one is more than a second old. */
cv_err audit_maybe_checkpoint(struct cv_audit *a) CV_MUST_CHECK;
int audit_level_fd(struct cv_audit *a, unsigned level);
cv_err audit_refresh(struct cv_audit *a) CV_MUST_CHECK;
/* Loads size, entries end and the right edge for a log of SIZE. */
cv_err audit_load_state(struct cv_audit *a, uint64_t size) CV_MUST_CHECK;
/*
 * Indexes N leaves that follow the current size: offsets and tree nodes,
 * written but not synced. FRAMES holds them as u32 length || bytes.
 */
cv_err audit_index_leaves(struct cv_audit *a, const uint8_t *frames,
    size_t flen, size_t n) CV_MUST_CHECK;
/*
 * At a read-write open: takes the exclusive lock, checks the files
 * against the latest checkpoint, re-indexes what follows it and cuts a
 * torn tail (repair.c). CV_ERR_FORMAT for damage below the checkpoint.
 */
cv_err audit_repair(struct cv_audit *a) CV_MUST_CHECK;
/* Where the first COUNT entries end in `entries`: entry COUNT's start
 * (0 for COUNT = 0). From the offsets file. */
cv_err audit_entry_end(struct cv_audit *a, uint64_t count,
    uint64_t *end) CV_MUST_CHECK;
cv_err audit_checkpoint_now(struct cv_audit *a,
    struct cv_buf *out) CV_MUST_CHECK;
/*
 * *END: where the last whole checkpoint frame ends in the first SIZE
 * bytes of `checkpoints`. SIZE unless the last frame is torn (it runs
 * past SIZE: a write that failed or was cut short by a crash, never
 * acknowledged); damage elsewhere is left for the readers to report.
 */
cv_err audit_ckpt_end(struct cv_audit *a, uint64_t size,
    uint64_t *end) CV_MUST_CHECK;
/* The last stored note (empty if none) and its parsed body. The last
 * whole one: a torn frame at the tail is not a checkpoint. */
cv_err audit_latest_checkpoint(struct cv_audit *a, struct cv_buf *note,
    struct cv_checkpoint *c) CV_MUST_CHECK;

/* Fills P's proof (and roots) under a shared lock. */
cv_err audit_locked_proof(struct cv_audit *a,
    struct cv_audit_proof *p) CV_MUST_CHECK;

/* The PostgreSQL backend (io_pg.c); H is an AUDIT_PG_* file. */
cv_err audit_pg_create(const char *db) CV_MUST_CHECK;
cv_err audit_pg_open(struct cv_audit *a, const char *db,
    const char *vault_id, int readonly) CV_MUST_CHECK;
void audit_pg_close(struct audit_pg *p);
cv_err audit_pg_read(struct cv_audit *a, unsigned h, void *buf, size_t len,
    uint64_t off) CV_MUST_CHECK;
cv_err audit_pg_write(struct cv_audit *a, unsigned h, const void *buf,
    size_t len, uint64_t off) CV_MUST_CHECK;
/* N reads of LEN[i] (<= 32) bytes at OFF[i] of file H[i], into OUT[i]:
 * one round trip. */
cv_err audit_pg_read_many(struct cv_audit *a, size_t n, const unsigned *h,
    const uint64_t *off, const size_t *len,
    uint8_t (*out)[CV_HASH_BYTES]) CV_MUST_CHECK;
/* audit_load_state's work in one round trip. */
cv_err audit_pg_load_edge(struct cv_audit *a, uint64_t size) CV_MUST_CHECK;
cv_err audit_pg_size(struct cv_audit *a, unsigned h,
    uint64_t *size) CV_MUST_CHECK;
cv_err audit_pg_truncate(struct cv_audit *a, unsigned h,
    uint64_t len) CV_MUST_CHECK;
/* The size of `checkpoints` and when the last one was written (seconds
 * since the epoch; 0: never), in one round trip. */
cv_err audit_pg_ckpt_stat(struct cv_audit *a, uint64_t *size,
    double *when) CV_MUST_CHECK;
/* HOW: LOCK_EX or LOCK_SH, LOCK_EX | LOCK_NB to give up (CV_ERR_LIMIT)
 * when another node holds it. */
cv_err audit_pg_lock(struct cv_audit *a, int how) CV_MUST_CHECK;
cv_err audit_pg_unlock(struct cv_audit *a, int commit);

/*
 * Staging (stage_pg.c, stage.c; PostgreSQL only). audit_pg_stage makes N
 * framed leaves durable as staged rows, IDX getting each one's index.
 * Under the exclusive lock: audit_pg_staged appends to FRAMES the staged
 * run that starts at FROM (*N of them), *NEXT the index after it, or the
 * sequence's next one when the run is empty; audit_pg_unstage deletes
 * the rows from FROM (the log's size before the move) to below UPTO.
 * audit_pg_fill stages LEAF at AT unless a row has it;
 * audit_pg_staged_leaf reads one staged row (CV_ERR_NOT_FOUND);
 * audit_pg_taken: the sequence's next index.
 */
/* Rows a staging statement inserts or reads at most. */
#define AUDIT_PG_STAGE_CHUNK 4096
cv_err audit_pg_stage_setup(struct cv_audit *a) CV_MUST_CHECK;
cv_err audit_pg_stage(struct cv_audit *a, const uint8_t *frames, size_t flen,
    size_t n, uint64_t *idx) CV_MUST_CHECK;
cv_err audit_pg_staged(struct cv_audit *a, uint64_t from,
    struct cv_buf *frames, size_t *n, uint64_t *next) CV_MUST_CHECK;
cv_err audit_pg_unstage(struct cv_audit *a, uint64_t from, uint64_t upto)
    CV_MUST_CHECK;
cv_err audit_pg_fill(struct cv_audit *a, uint64_t at, const uint8_t *leaf,
    size_t len) CV_MUST_CHECK;
cv_err audit_pg_staged_leaf(struct cv_audit *a, uint64_t index,
    struct cv_buf *out) CV_MUST_CHECK;
cv_err audit_pg_taken(struct cv_audit *a, uint64_t *next) CV_MUST_CHECK;
/* The exclusive lock if no other node holds it, else CV_ERR_LIMIT. */
cv_err audit_try_lock(struct cv_audit *a) CV_MUST_CHECK;
/* audit_write_batch on PostgreSQL: N framed leaves staged, durable, IDX
 * their indices; moved into the log here when the handle has no mover
 * thread (a command goes on with its own entries in the log). */
cv_err audit_stage_batch(struct cv_audit *a, const uint8_t *frames,
    size_t flen, size_t n, uint64_t *idx) CV_MUST_CHECK;
/* The mover thread's round: what follows the log, while no other node
 * moves; a hole seen at *HOLE_AT (up to *HOLE_NEXT) since *HOLE_SINCE,
 * kept by the caller between rounds, is filled once old. *BUSY: whether
 * it moved an entry or watches a hole (the next round is due soon). */
cv_err audit_move_some(struct cv_audit *a, double *hole_since,
    uint64_t *hole_at, uint64_t *hole_next, int *busy) CV_MUST_CHECK;

#endif
