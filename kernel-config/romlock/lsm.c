// SPDX-License-Identifier: GPL-2.0-only
/*
 * romlock: registration, the romlock.mode= boot parameter, and the one
 * place where decisions are counted and logged.
 *
 * Every decision is one rate-limited kernel log line naming the verdict,
 * the operation and its object, the reason, and the acting task:
 *   romlock: DENY mount tmpfs on /etc (not in policy) pid=412 comm=sh
 * In permissive mode a refusal is logged as WOULD-DENY and allowed.
 */
#define pr_fmt(fmt) "romlock: " fmt

#include <linux/atomic.h>
#include <linux/dcache.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/ratelimit.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <uapi/linux/lsm.h>

#include "romlock.h"

const struct lsm_id romlock_lsmid = {
	.name = "romlock",
	.id = LSM_ID_ROMLOCK,
};

/* Enforcing unless the command line says romlock.mode=permissive. */
static bool romlock_permissive __ro_after_init;

static int __init romlock_mode_setup(char *str)
{
	if (!strcmp(str, "permissive"))
		romlock_permissive = true;
	else if (!strcmp(str, "enforce"))
		romlock_permissive = false;
	else
		pr_err("unknown romlock.mode=%s, staying in enforce mode\n",
		       str);
	return 1;
}
__setup("romlock.mode=", romlock_mode_setup);

bool romlock_enforcing(void)
{
	return !romlock_permissive;
}

const char *const romlock_op_names[ROMLOCK_OP_COUNT] = {
	[ROMLOCK_OP_MOUNT] = "mount",
	[ROMLOCK_OP_REMOUNT] = "remount",
	[ROMLOCK_OP_BIND] = "bind",
	[ROMLOCK_OP_MOVE] = "move_mount",
	[ROMLOCK_OP_PROPAGATION] = "propagation",
	[ROMLOCK_OP_SETATTR] = "mount_setattr",
	[ROMLOCK_OP_UMOUNT] = "umount",
	[ROMLOCK_OP_PIVOT_ROOT] = "pivot_root",
	[ROMLOCK_OP_CHROOT] = "chroot",
	[ROMLOCK_OP_EXEC] = "exec",
	[ROMLOCK_OP_EXEC_LOCK] = "exec_lock",
	[ROMLOCK_OP_POLICY] = "policy",
	[ROMLOCK_OP_CAPABLE] = "capability",
	[ROMLOCK_OP_JAIL] = "jail",
	[ROMLOCK_OP_SIGNAL] = "signal",
	[ROMLOCK_OP_SYSLOG] = "syslog",
	[ROMLOCK_OP_BLOCKDEV] = "blockdev",
};

static atomic_long_t romlock_allowed[ROMLOCK_OP_COUNT];
static atomic_long_t romlock_denied[ROMLOCK_OP_COUNT];

/*
 * The printk default (10 lines per 5 s) would hide most of a burst of
 * refusals from a compromised service, which is exactly what the
 * administrator wants to see; 100 per 5 s still bounds a log flood.
 * One limit per verdict and operation: a flood of exec refusals must not
 * hide the one signal refusal that tells what the attacker tried next.
 */
static struct ratelimit_state romlock_log_rs[2][ROMLOCK_OP_COUNT];

static void romlock_vlog(bool denial, enum romlock_op op, const char *verdict,
			 const char *fmt, va_list args)
{
	char what[320];
	char comm[TASK_COMM_LEN];

	if (!__ratelimit(&romlock_log_rs[denial][op]))
		return;
	vsnprintf(what, sizeof(what), fmt, args);
	get_task_comm(comm, current);
	pr_notice("%s %s pid=%d comm=%s\n", verdict, what,
		  task_tgid_vnr(current), comm);
}

int romlock_deny(enum romlock_op op, const char *fmt, ...)
{
	va_list args;
	bool enforce = romlock_enforcing();

	atomic_long_inc(&romlock_denied[op]);
	va_start(args, fmt);
	romlock_vlog(true, op, enforce ? "DENY" : "WOULD-DENY", fmt, args);
	va_end(args);
	return enforce ? -EPERM : 0;
}

void romlock_allow(enum romlock_op op, const char *fmt, ...)
{
	va_list args;

	atomic_long_inc(&romlock_allowed[op]);
	va_start(args, fmt);
	romlock_vlog(false, op, "ALLOW", fmt, args);
	va_end(args);
}

void romlock_show_counters(struct seq_file *m)
{
	int op;

	seq_puts(m, "counters:\n");
	for (op = 0; op < ROMLOCK_OP_COUNT; op++)
		seq_printf(m, "  %-14s allowed=%ld denied=%ld\n",
			   romlock_op_names[op],
			   atomic_long_read(&romlock_allowed[op]),
			   atomic_long_read(&romlock_denied[op]));
}

/* d_path() for log lines: never fails, may be truncated or "?". */
const char *romlock_path(const struct path *path, char *buf, int buflen)
{
	char *p;

	if (!path || !path->dentry || !path->mnt)
		return "?";
	p = d_path(path, buf, buflen);
	return IS_ERR(p) ? "?" : p;
}

/* False when romlock is built in but left out of CONFIG_LSM / lsm=. */
bool romlock_initialized __ro_after_init;

static int __init romlock_init(void)
{
	int v, op;

	for (v = 0; v < 2; v++)
		for (op = 0; op < ROMLOCK_OP_COUNT; op++)
			ratelimit_state_init(&romlock_log_rs[v][op], 5 * HZ, 100);
	romlock_initialized = true;
	romlock_add_mount_hooks();
	romlock_add_exec_hooks();
	romlock_add_jail_hooks();
	pr_info("initialized, mode %s\n",
		romlock_enforcing() ? "enforce" : "permissive");
	return 0;
}

DEFINE_LSM(romlock) = {
	.name = "romlock",
	.init = romlock_init,
	.blobs = &romlock_blob_sizes,
};
