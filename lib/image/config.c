/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The image config's run-time fields and layer digests, and the cache's
 * sidecar that keeps the former next to the image. */
#include "config.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "priv.h"

/* Most entries in Entrypoint, Cmd or Env (the JSON size bounds them too). */
#define LIST_MAX 65536

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void ed_oci_config_free(struct ed_oci_config *c)
{
	if (!c)
		return;
	free_list(c->entrypoint, c->n_entrypoint);
	free_list(c->cmd, c->n_cmd);
	free_list(c->env, c->n_env);
	free(c->workdir);
	free(c->user);
	memset(c, 0, sizeof(*c));
}

static int get_list(json_t *obj, const char *key, char ***out, size_t *n, const char *what)
{
	json_t *v = json_object_get(obj, key), *s;
	size_t i;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v) || json_array_size(v) > LIST_MAX)
		return ed_error(EDERA_EINVAL, "%s: config.%s is not a list of strings", what, key);
	if (json_array_size(v) == 0)
		return 0;
	*out = calloc(json_array_size(v), sizeof(char *));
	if (!*out)
		return ed_error(EDERA_ENOMEM, "%s: out of memory", what);
	json_array_foreach(v, i, s)
	{
		if (!json_is_string(s))
			return ed_error(EDERA_EINVAL, "%s: config.%s[%zu] is not a string", what,
			                key, i);
		(*out)[i] = strdup(json_string_value(s));
		if (!(*out)[i])
			return ed_error(EDERA_ENOMEM, "%s: out of memory", what);
		*n = i + 1;
	}
	return 0;
}

static int get_str(json_t *obj, const char *key, char **out, const char *what)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return ed_error(EDERA_EINVAL, "%s: config.%s is not a string", what, key);
	*out = strdup(json_string_value(v));
	return *out ? 0 : ed_error(EDERA_ENOMEM, "%s: out of memory", what);
}

int ed_oci_config_parse(struct ed_oci_config *c, char (*diff_ids)[ED_DIGEST_STR_LEN],
                        size_t *n_diff_ids, const uint8_t *data, size_t len, const char *what)
{
	json_error_t jerr;
	json_t *root, *cfg, *rootfs, *ids, *v;
	size_t i;
	int rc = 0;

	memset(c, 0, sizeof(*c));
	*n_diff_ids = 0;
	root = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return ed_error(EDERA_EINVAL, "%s: not valid JSON (line %d: %s)", what, jerr.line,
		                jerr.text);
	if (!json_is_object(root)) {
		rc = ed_error(EDERA_EINVAL, "%s: not a JSON object", what);
		goto out;
	}
	/* An image without a config object (or without Entrypoint and Cmd) is
	 * converted all the same: whether it can run is the run step's call. */
	cfg = json_object_get(root, "config");
	if (cfg && !json_is_null(cfg)) {
		if (!json_is_object(cfg)) {
			rc = ed_error(EDERA_EINVAL, "%s: \"config\" is not an object", what);
			goto out;
		}
		if ((rc = get_list(cfg, "Entrypoint", &c->entrypoint, &c->n_entrypoint, what)) ||
		    (rc = get_list(cfg, "Cmd", &c->cmd, &c->n_cmd, what)) ||
		    (rc = get_list(cfg, "Env", &c->env, &c->n_env, what)) ||
		    (rc = get_str(cfg, "WorkingDir", &c->workdir, what)) ||
		    (rc = get_str(cfg, "User", &c->user, what)))
			goto out;
	}
	rootfs = json_object_get(root, "rootfs");
	ids = rootfs ? json_object_get(rootfs, "diff_ids") : NULL;
	if (!json_is_array(ids)) {
		rc = ed_error(EDERA_EINVAL, "%s: no rootfs.diff_ids list: not an image config",
		              what);
		goto out;
	}
	if (json_array_size(ids) > ED_OCI_LAYERS_MAX) {
		rc = ed_error(EDERA_EINVAL, "%s: %zu layers, more than the %d allowed", what,
		              json_array_size(ids), ED_OCI_LAYERS_MAX);
		goto out;
	}
	json_array_foreach(ids, i, v)
	{
		if (!json_is_string(v) || !ed_digest_valid(json_string_value(v))) {
			rc = ed_error(json_is_string(v) && strncmp(json_string_value(v),
			                                           "sha256:", 7) != 0
			                      ? EDERA_ENOTSUP
			                      : EDERA_EINVAL,
			              "%s: rootfs.diff_ids[%zu] is not a sha256 digest", what, i);
			goto out;
		}
		memcpy(diff_ids[i], json_string_value(v), ED_DIGEST_STR_LEN);
	}
	*n_diff_ids = json_array_size(ids);
out:
	if (rc < 0)
		ed_oci_config_free(c);
	json_decref(root);
	return rc;
}

static json_t *list_json(char **v, size_t n)
{
	json_t *a;

	if (!v)
		return json_null();
	a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

char *ed_oci_sidecar_dump(const struct ed_oci_image *img, uint64_t size)
{
	const struct ed_oci_config *c = &img->config;
	json_t *cfg, *root;
	char *s;

	cfg = json_pack("{s:o, s:o, s:o, s:o*, s:o*}", "Entrypoint",
	                list_json(c->entrypoint, c->n_entrypoint), "Cmd",
	                list_json(c->cmd, c->n_cmd), "Env", list_json(c->env, c->n_env),
	                "WorkingDir", c->workdir ? json_string(c->workdir) : NULL, "User",
	                c->user ? json_string(c->user) : NULL);
	if (!cfg)
		return NULL;
	root = json_pack("{s:s, s:o, s:I, s:o}", "digest", img->digest, "name",
	                 img->name ? json_string(img->name) : json_null(), "size", (json_int_t)size,
	                 "config", cfg);
	if (!root)
		return NULL;
	s = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(root);
	return s;
}

char *ed_oci_sidecar_name(const char *data, size_t len)
{
	json_t *root = json_loadb(data, len, 0, NULL), *v;
	char *name = NULL;

	v = root ? json_object_get(root, "name") : NULL;
	if (json_is_string(v))
		name = strdup(json_string_value(v));
	json_decref(root);
	return name;
}
