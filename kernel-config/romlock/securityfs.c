// SPDX-License-Identifier: GPL-2.0-only
/*
 * romlock: /sys/kernel/security/romlock/
 *   policy     (0600, write, CAP_SYS_ADMIN) policy lines, then "seal"
 *   exec_lock  (0666, write) "self", or a pid (CAP_SYS_ADMIN)
 *   status     (0444, read) mode, sealed, the policy, counters
 *   jail       (0600, write, CAP_SYS_ADMIN) one line:
 *                start_lock PID [FILE...]  PID's next exec is allowed, and
 *                  after it its tree may exec only the FILEs (until
 *                  exec_lock locks it for good)
 *                kill DIR  SIGKILL every task of the jail chrooted at DIR
 */
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/namei.h>
#include <linux/sched.h>
#include <linux/user_namespace.h>
#include <linux/security.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "romlock.h"

/* The whole policy of an appliance is a few dozen lines. */
#define ROMLOCK_MAX_WRITE (64 * 1024)

/*
 * The text of a write to a root-only file: CAP_SYS_ADMIN in both the opener
 * and the writer (no confused deputy through a passed fd), bounded, NUL-ended.
 */
static char *romlock_admin_write_text(struct file *file, const char __user *ubuf,
				      size_t count)
{
	if (!file_ns_capable(file, &init_user_ns, CAP_SYS_ADMIN) ||
	    !capable(CAP_SYS_ADMIN))
		return ERR_PTR(-EPERM);
	if (count > ROMLOCK_MAX_WRITE)
		return ERR_PTR(-E2BIG);
	return memdup_user_nul(ubuf, count);
}

static ssize_t romlock_policy_file_write(struct file *file,
					 const char __user *ubuf, size_t count,
					 loff_t *ppos)
{
	char *text = romlock_admin_write_text(file, ubuf, count);
	int err;

	if (IS_ERR(text))
		return PTR_ERR(text);
	err = romlock_policy_write(text);
	kfree(text);
	return err ? err : count;
}

static const struct file_operations romlock_policy_fops = {
	.write = romlock_policy_file_write,
	.llseek = generic_file_llseek,
};

static ssize_t romlock_exec_lock_file_write(struct file *file,
					    const char __user *ubuf,
					    size_t count, loff_t *ppos)
{
	char buf[24];
	char *word;
	int nr, err;

	if (count >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	buf[count] = '\0';
	word = strim(buf);
	if (!strcmp(word, "self"))
		nr = 0;
	else if (kstrtoint(word, 10, &nr) || nr <= 0)
		return -EINVAL;
	/*
	 * The file is world-writable for "self"; naming another process
	 * needs CAP_SYS_ADMIN in whoever opened it as well as in the writer
	 * (checked in romlock_exec_lock_pid).
	 */
	if (nr && nr != task_tgid_vnr(current) &&
	    !file_ns_capable(file, &init_user_ns, CAP_SYS_ADMIN))
		return -EPERM;
	err = romlock_exec_lock_pid(nr);
	return err ? err : count;
}

static const struct file_operations romlock_exec_lock_fops = {
	.write = romlock_exec_lock_file_write,
	.llseek = generic_file_llseek,
};

#define ROMLOCK_MAX_START_FILES 64

static int romlock_jail_start_lock(char *args)
{
	struct romlock_start_allow *allow;
	char *word;
	int nr, files = 0, err = 0;

	word = strsep(&args, " ");
	if (!word || kstrtoint(word, 10, &nr) || nr <= 0)
		return -EINVAL;
	allow = romlock_start_allow_alloc(ROMLOCK_MAX_START_FILES);
	if (!allow)
		return -ENOMEM;
	while (!err && (word = strsep(&args, " ")) != NULL) {
		struct path path;

		if (!*word)
			continue;
		if (++files > ROMLOCK_MAX_START_FILES) {
			err = -E2BIG;
			break;
		}
		err = kern_path(word, LOOKUP_FOLLOW, &path);
		if (err)
			break;
		if (d_is_reg(path.dentry))
			romlock_start_allow_add(allow, d_inode(path.dentry));
		else
			err = -EACCES;
		path_put(&path);
	}
	if (err) {
		pr_err("romlock: start_lock %d: %s: error %d\n", nr, word ? word : "?", err);
		kfree(allow);
		return err;
	}
	return romlock_start_lock_pid(nr, allow);
}

static ssize_t romlock_jail_file_write(struct file *file,
				       const char __user *ubuf, size_t count,
				       loff_t *ppos)
{
	char *text = romlock_admin_write_text(file, ubuf, count), *line, *verb;
	int ret;

	if (IS_ERR(text))
		return PTR_ERR(text);
	line = strim(text);
	verb = strsep(&line, " ");
	if (!strcmp(verb, "start_lock") && line)
		ret = romlock_jail_start_lock(line);
	else if (!strcmp(verb, "kill") && line && !strchr(line, ' '))
		ret = romlock_kill_jail(line);
	else
		ret = -EINVAL;
	kfree(text);
	return ret < 0 ? ret : count;
}

static const struct file_operations romlock_jail_fops = {
	.write = romlock_jail_file_write,
	.llseek = generic_file_llseek,
};

static int romlock_status_show(struct seq_file *m, void *v)
{
	seq_printf(m, "mode: %s\n",
		   romlock_enforcing() ? "enforce" : "permissive");
	romlock_show_policy(m);
	romlock_show_counters(m);
	return 0;
}

static int romlock_status_open(struct inode *inode, struct file *file)
{
	return single_open(file, romlock_status_show, NULL);
}

static const struct file_operations romlock_status_fops = {
	.open = romlock_status_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.release = single_release,
};

static int __init romlock_securityfs_init(void)
{
	struct dentry *dir, *f;

	/*
	 * Without its hooks a policy would be accepted and sealed but never
	 * enforced; no interface at all makes init's policy write fail loudly.
	 */
	if (!romlock_initialized) {
		pr_warn("romlock: not enabled (not in CONFIG_LSM or lsm=), no securityfs interface\n");
		return 0;
	}
	dir = securityfs_create_dir("romlock", NULL);
	if (IS_ERR(dir))
		return PTR_ERR(dir);
	f = securityfs_create_file("policy", 0600, dir, NULL,
				   &romlock_policy_fops);
	if (IS_ERR(f))
		return PTR_ERR(f);
	f = securityfs_create_file("exec_lock", 0666, dir, NULL,
				   &romlock_exec_lock_fops);
	if (IS_ERR(f))
		return PTR_ERR(f);
	f = securityfs_create_file("jail", 0600, dir, NULL, &romlock_jail_fops);
	if (IS_ERR(f))
		return PTR_ERR(f);
	f = securityfs_create_file("status", 0444, dir, NULL,
				   &romlock_status_fops);
	return PTR_ERR_OR_ZERO(f);
}
fs_initcall(romlock_securityfs_init);
