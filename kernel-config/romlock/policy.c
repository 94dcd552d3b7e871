// SPDX-License-Identifier: GPL-2.0-only
/*
 * romlock: the policy and its one-way seal.
 *
 * Input: lines written to /sys/kernel/security/romlock/policy:
 *   mount <fstype> <dir> <flag>[,<flag>...]   flags: nosuid nodev noexec ro
 *   chroot <dir>
 *   seal
 *   # comment
 * Output: an append-only rule list that the hooks read once sealed.
 *
 * Directories are resolved with kern_path() when the rule is written and
 * the hooks compare dentries, never names: a symlink or a second path to
 * another directory does not match, and a bind mount of the same directory
 * (pre-seal) does.  Rules are appended under romlock_policy_mutex and
 * never change after the seal, so the hooks read them without a lock; the
 * release/acquire pair on romlock_is_sealed orders the list before the seal.
 */
#define pr_fmt(fmt) "romlock: " fmt

#include <linux/ctype.h>
#include <linux/fs.h>
#include <linux/mount.h>
#include <uapi/linux/mount.h>
#include <linux/mutex.h>
#include <linux/namei.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "romlock.h"

static LIST_HEAD(romlock_rules);
static DEFINE_MUTEX(romlock_policy_mutex);
static bool romlock_is_sealed;

#define ROMLOCK_WRITABLE_FLAGS (MS_NOSUID | MS_NODEV | MS_NOEXEC)

static const struct {
	const char *name;
	unsigned long flag;
} romlock_flag_names[] = {
	{ "ro", MS_RDONLY },
	{ "nosuid", MS_NOSUID },
	{ "nodev", MS_NODEV },
	{ "noexec", MS_NOEXEC },
};

bool romlock_sealed(void)
{
	return smp_load_acquire(&romlock_is_sealed);
}

void romlock_format_flags(unsigned long ms_flags, char *buf, size_t len)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < ARRAY_SIZE(romlock_flag_names); i++) {
		if (!(ms_flags & romlock_flag_names[i].flag))
			continue;
		used += scnprintf(buf + used, len - used, "%s%s",
				  used ? " " : "", romlock_flag_names[i].name);
	}
	if (!used)
		strscpy(buf, "defaults", len);
}

static int romlock_parse_flags(char *text, unsigned long *flags)
{
	char *name;
	size_t i;

	*flags = 0;
	while ((name = strsep(&text, ",")) != NULL) {
		if (!*name)
			continue;
		for (i = 0; i < ARRAY_SIZE(romlock_flag_names); i++)
			if (!strcmp(name, romlock_flag_names[i].name))
				break;
		if (i == ARRAY_SIZE(romlock_flag_names)) {
			pr_err("policy: unknown mount flag '%s'\n", name);
			return -EINVAL;
		}
		*flags |= romlock_flag_names[i].flag;
	}
	/*
	 * A writable filesystem without all three would let a compromised
	 * service plant a setuid binary, a device node or a program; refuse
	 * such a rule instead of silently widening it.
	 */
	if (!(*flags & MS_RDONLY) &&
	    (*flags & ROMLOCK_WRITABLE_FLAGS) != ROMLOCK_WRITABLE_FLAGS) {
		pr_err("policy: a writable mount must require nosuid,nodev,noexec (or ro)\n");
		return -EINVAL;
	}
	return 0;
}

static void romlock_free_rule(struct romlock_rule *rule)
{
	if (rule->path.dentry)
		path_put(&rule->path);
	kfree(rule->fstype);
	kfree(rule->dir);
	kfree(rule);
}

/* Splits off the next blank-separated word; NULL at the end of the line. */
static char *romlock_next_word(char **line)
{
	char *word;

	do {
		word = strsep(line, " \t");
	} while (word && !*word);
	return word;
}

static int romlock_add_rule(enum romlock_rule_kind kind, const char *fstype,
			    const char *dir, unsigned long flags)
{
	struct romlock_rule *rule;
	int err;

	if (dir[0] != '/') {
		pr_err("policy: '%s' is not an absolute path\n", dir);
		return -EINVAL;
	}
	rule = kzalloc(sizeof(*rule), GFP_KERNEL);
	if (!rule)
		return -ENOMEM;
	rule->kind = kind;
	rule->flags = flags;
	rule->dir = kstrdup(dir, GFP_KERNEL);
	rule->fstype = fstype ? kstrdup(fstype, GFP_KERNEL) : NULL;
	if (!rule->dir || (fstype && !rule->fstype)) {
		romlock_free_rule(rule);
		return -ENOMEM;
	}
	err = kern_path(dir, LOOKUP_FOLLOW | LOOKUP_DIRECTORY, &rule->path);
	if (err) {
		pr_err("policy: cannot resolve directory %s (error %d)\n", dir,
		       err);
		rule->path.dentry = NULL;
		romlock_free_rule(rule);
		return err;
	}
	list_add_tail(&rule->list, &romlock_rules);
	return 0;
}

static int romlock_parse_line(char *line)
{
	char *verb, *a, *b, *c;
	unsigned long flags;
	int err;

	verb = romlock_next_word(&line);
	if (!verb || verb[0] == '#')
		return 0;
	a = romlock_next_word(&line);
	b = romlock_next_word(&line);
	c = romlock_next_word(&line);

	if (!strcmp(verb, "seal") && !a) {
		smp_store_release(&romlock_is_sealed, true);
		romlock_allow(ROMLOCK_OP_POLICY, "seal");
		return 0;
	}
	if (!strcmp(verb, "chroot") && a && !b)
		return romlock_add_rule(ROMLOCK_RULE_CHROOT, NULL, a, 0);
	if (!strcmp(verb, "mount") && a && b && c &&
	    !romlock_next_word(&line)) {
		err = romlock_parse_flags(c, &flags);
		if (err)
			return err;
		return romlock_add_rule(ROMLOCK_RULE_MOUNT, a, b, flags);
	}
	pr_err("policy: cannot parse line starting with '%s'\n", verb);
	return -EINVAL;
}

/*
 * Applies the lines of @text in order; stops at the first bad line, whose
 * predecessors stay applied (the writer is the appliance's init, which
 * treats any error as fatal anyway).
 */
int romlock_policy_write(char *text)
{
	char *line;
	int err = 0;

	mutex_lock(&romlock_policy_mutex);
	if (romlock_sealed())
		goto sealed;
	while ((line = strsep(&text, "\n")) != NULL) {
		line = skip_spaces(line);
		if (!*line)
			continue;
		if (romlock_sealed())
			goto sealed;
		err = romlock_parse_line(line);
		if (err)
			break;
	}
	mutex_unlock(&romlock_policy_mutex);
	return err;

sealed:
	/* Not even permissive mode reopens a sealed policy. */
	romlock_deny(ROMLOCK_OP_POLICY, "policy write (sealed)");
	mutex_unlock(&romlock_policy_mutex);
	return -EPERM;
}

const struct romlock_rule *romlock_find_mount_rule(const char *fstype,
						   const struct dentry *dir)
{
	const struct romlock_rule *rule;

	list_for_each_entry(rule, &romlock_rules, list)
		if (rule->kind == ROMLOCK_RULE_MOUNT &&
		    rule->path.dentry == dir && !strcmp(rule->fstype, fstype))
			return rule;
	return NULL;
}

const struct romlock_rule *romlock_find_chroot_rule(const struct dentry *dir)
{
	const struct romlock_rule *rule;

	list_for_each_entry(rule, &romlock_rules, list)
		if (rule->kind == ROMLOCK_RULE_CHROOT &&
		    rule->path.dentry == dir)
			return rule;
	return NULL;
}

void romlock_show_policy(struct seq_file *m)
{
	const struct romlock_rule *rule;
	char flags[64];
	size_t i, used;

	mutex_lock(&romlock_policy_mutex);
	seq_printf(m, "sealed: %s\npolicy:\n",
		   romlock_sealed() ? "yes" : "no");
	list_for_each_entry(rule, &romlock_rules, list) {
		if (rule->kind == ROMLOCK_RULE_CHROOT) {
			seq_printf(m, "  chroot %s\n", rule->dir);
			continue;
		}
		used = 0;
		flags[0] = '\0';
		for (i = 0; i < ARRAY_SIZE(romlock_flag_names); i++)
			if (rule->flags & romlock_flag_names[i].flag)
				used += scnprintf(flags + used,
						  sizeof(flags) - used, "%s%s",
						  used ? "," : "",
						  romlock_flag_names[i].name);
		seq_printf(m, "  mount %s %s %s\n", rule->fstype, rule->dir,
			   flags);
	}
	mutex_unlock(&romlock_policy_mutex);
}
