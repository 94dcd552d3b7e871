// SPDX-License-Identifier: GPL-2.0-only
/*
 * romlock: the exec lock.
 *
 * Input: a pid named by root (securityfs exec_lock, or prctl) or a task's
 * request for itself.  Output: that task, all its threads and every
 * current and future descendant fail execve/execveat (and so fexecve of a
 * memfd, which is execveat(AT_EMPTY_PATH)) with EPERM.
 *
 * How descendants are found, and why there is no fork race:
 *
 * Every task owns a small "lineage" node; task_alloc gives the child a new
 * node that points to (and pins, by refcount) the node of the task that
 * created it.  Locking a process sets the flag in the nodes of its
 * threads; exec is refused if the caller's node or any node up its chain
 * is locked.  The chain is fixed when the child is created and nothing
 * ever unlinks it, so:
 *   - a child created while the lock is being set holds a pointer to its
 *     creator's node from the moment it exists; whichever of "set flag" and
 *     "create child" comes first, the child's exec sees the flag;
 *   - descendants that already exist need no walk under tasklist_lock:
 *     they reach the locked node through their own chains;
 *   - reparenting (the locked parent exits, the orphan moves to init or a
 *     subreaper) changes real_parent but not the chain, so a walk of
 *     real_parent would let such an orphan escape; the chain does not;
 *   - CLONE_PARENT and CLONE_THREAD chain to the creator, not to the task
 *     named as parent, so neither can step outside the lock.
 * The flag only goes from false to true.  A node lives as long as its task
 * or any descendant's node, so memory is bounded by the depth of the live
 * process trees, not by their number.  An exec walks its chain: the depth
 * of the process tree, a handful of pointers.
 */
#include <linux/binfmts.h>
#include <linux/capability.h>
#include <linux/pid.h>
#include <linux/prctl.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "romlock.h"

struct romlock_lineage {
	refcount_t usage;
	bool locked;
	struct romlock_lineage *parent;
};

struct romlock_task {
	struct romlock_lineage *lineage;
};

struct lsm_blob_sizes romlock_blob_sizes __ro_after_init = {
	.lbs_task = sizeof(struct romlock_task),
};

static struct kmem_cache *romlock_lineage_cache __ro_after_init;

static struct romlock_task *romlock_task(const struct task_struct *task)
{
	return task->security + romlock_blob_sizes.lbs_task;
}

static bool romlock_lineage_locked(const struct romlock_lineage *node)
{
	for (; node; node = node->parent)
		if (READ_ONCE(node->locked))
			return true;
	return false;
}

static int romlock_task_alloc(struct task_struct *task,
			      unsigned long clone_flags)
{
	struct romlock_lineage *parent = romlock_task(current)->lineage;
	struct romlock_lineage *node;

	node = kmem_cache_alloc(romlock_lineage_cache, GFP_KERNEL);
	if (!node)
		return -ENOMEM;
	refcount_set(&node->usage, 1);
	/* Only a shortcut for the exec check; the chain is what counts. */
	node->locked = parent && READ_ONCE(parent->locked);
	node->parent = parent;
	if (parent)
		refcount_inc(&parent->usage);
	romlock_task(task)->lineage = node;
	return 0;
}

/* May run in RCU callback (softirq) context: no sleeping here. */
static void romlock_task_free(struct task_struct *task)
{
	struct romlock_lineage *node = romlock_task(task)->lineage;
	struct romlock_lineage *parent;

	romlock_task(task)->lineage = NULL;
	while (node && refcount_dec_and_test(&node->usage)) {
		parent = node->parent;
		kmem_cache_free(romlock_lineage_cache, node);
		node = parent;
	}
}

static int romlock_bprm_creds_for_exec(struct linux_binprm *bprm)
{
	if (!romlock_lineage_locked(romlock_task(current)->lineage))
		return 0;
	return romlock_deny(ROMLOCK_OP_EXEC, "exec %s (exec-locked)",
			    bprm->filename);
}

/*
 * Locks the process with (virtual) pid @nr, or the caller's own process
 * when @nr is 0.  Naming another process needs CAP_SYS_ADMIN.
 */
int romlock_exec_lock_pid(pid_t nr)
{
	struct task_struct *p, *t;
	char comm[TASK_COMM_LEN];
	pid_t tgid;

	if (nr < 0)
		return -EINVAL;
	if (nr && nr != task_tgid_vnr(current) && !capable(CAP_SYS_ADMIN))
		return -EPERM;

	rcu_read_lock();
	p = nr ? find_task_by_vpid(nr) : current;
	if (!p) {
		rcu_read_unlock();
		return -ESRCH;
	}
	for_each_thread(p, t) {
		struct romlock_lineage *node = romlock_task(t)->lineage;

		if (node)
			WRITE_ONCE(node->locked, true);
	}
	tgid = task_tgid_vnr(p);
	get_task_comm(comm, p);
	rcu_read_unlock();

	romlock_allow(ROMLOCK_OP_EXEC_LOCK,
		      "exec_lock pid %d (%s) and all its descendants", tgid,
		      comm);
	return 0;
}

static int romlock_task_prctl(int option, unsigned long arg2,
			      unsigned long arg3, unsigned long arg4,
			      unsigned long arg5)
{
	if (option != PR_ROMLOCK_EXEC_LOCK)
		return -ENOSYS;
	if (arg3 || arg4 || arg5 || arg2 > PID_MAX_LIMIT)
		return -EINVAL;
	return romlock_exec_lock_pid((pid_t)arg2);
}

static struct security_hook_list romlock_exec_hooks[] __ro_after_init = {
	LSM_HOOK_INIT(task_alloc, romlock_task_alloc),
	LSM_HOOK_INIT(task_free, romlock_task_free),
	LSM_HOOK_INIT(bprm_creds_for_exec, romlock_bprm_creds_for_exec),
	LSM_HOOK_INIT(task_prctl, romlock_task_prctl),
};

void __init romlock_add_exec_hooks(void)
{
	romlock_lineage_cache = KMEM_CACHE(romlock_lineage, SLAB_PANIC);
	security_add_hooks(romlock_exec_hooks, ARRAY_SIZE(romlock_exec_hooks),
			   &romlock_lsmid);
}
