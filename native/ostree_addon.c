/*
 * apt-ostree's small N-API addon over libostree: what the `ostree` command of
 * Debian 12 (2022.7) lacks. N-API is ABI-stable, so one build runs on any
 * Node >= 18. Loaded only by src/engine/ostree/native.ts.
 *
 *   listDeployments(sysroot)            -> [{index, osname, csum, deployserial, bootserial,
 *                                           bootcsum, booted, staged, pinned, unlocked, options,
 *                                           bootconfig, originPath, deployPath}] in boot order
 *   writeDeployments(sysroot, order)    -> Promise<void>  (ostree_sysroot_write_deployments)
 *   commitInfo(repo, rev)               -> {checksum, parent, subject, body, timestamp, metadata}
 *   flock(fd, exclusive, nonblocking)   -> boolean
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <ostree.h>
#include <errno.h>
#include <string.h>
#include <sys/file.h>

#define CHECK(call)                                                            \
  do {                                                                         \
    if ((call) != napi_ok) {                                                   \
      napi_throw_error (env, NULL, "N-API call failed: " #call);               \
      return NULL;                                                             \
    }                                                                          \
  } while (0)

static napi_value
throw_gerror (napi_env env, GError *error)
{
  napi_throw_error (env, NULL, error ? error->message : "unknown libostree error");
  return NULL;
}

/* A string argument, newly allocated; NULL (with a JS exception) when not a string. */
static char *
arg_string (napi_env env, napi_value v, const char *what)
{
  size_t len = 0;
  if (napi_get_value_string_utf8 (env, v, NULL, 0, &len) != napi_ok)
    {
      char msg[128];
      g_snprintf (msg, sizeof msg, "%s must be a string", what);
      napi_throw_type_error (env, NULL, msg);
      return NULL;
    }
  char *s = g_malloc (len + 1);
  napi_get_value_string_utf8 (env, v, s, len + 1, &len);
  return s;
}

static void
set_str (napi_env env, napi_value obj, const char *key, const char *val)
{
  napi_value v;
  if (val)
    napi_create_string_utf8 (env, val, NAPI_AUTO_LENGTH, &v);
  else
    napi_get_null (env, &v);
  napi_set_named_property (env, obj, key, v);
}

static void
set_int (napi_env env, napi_value obj, const char *key, gint64 val)
{
  napi_value v;
  napi_create_int64 (env, val, &v);
  napi_set_named_property (env, obj, key, v);
}

static void
set_bool (napi_env env, napi_value obj, const char *key, gboolean val)
{
  napi_value v;
  napi_get_boolean (env, val ? true : false, &v);
  napi_set_named_property (env, obj, key, v);
}

static OstreeSysroot *
load_sysroot (const char *path, GError **error)
{
  g_autoptr(GFile) f = g_file_new_for_path (path);
  g_autoptr(OstreeSysroot) sysroot = ostree_sysroot_new (f);
  if (!ostree_sysroot_load (sysroot, NULL, error))
    return NULL;
  return g_steal_pointer (&sysroot);
}

/* ------------------------------------------------------------------------ */

static napi_value
list_deployments (napi_env env, napi_callback_info info)
{
  size_t argc = 1;
  napi_value argv[1];
  CHECK (napi_get_cb_info (env, info, &argc, argv, NULL, NULL));
  if (argc < 1)
    {
      napi_throw_type_error (env, NULL, "listDeployments(sysrootPath)");
      return NULL;
    }
  g_autofree char *path = arg_string (env, argv[0], "sysrootPath");
  if (!path)
    return NULL;

  g_autoptr(GError) error = NULL;
  g_autoptr(OstreeSysroot) sysroot = load_sysroot (path, &error);
  if (!sysroot)
    return throw_gerror (env, error);
  g_autoptr(GFile) root = g_file_new_for_path (path);
  g_autoptr(GPtrArray) deployments = ostree_sysroot_get_deployments (sysroot);
  OstreeDeployment *booted = ostree_sysroot_get_booted_deployment (sysroot);

  napi_value result;
  CHECK (napi_create_array_with_length (env, deployments->len, &result));
  for (guint i = 0; i < deployments->len; i++)
    {
      OstreeDeployment *d = deployments->pdata[i];
      napi_value o;
      CHECK (napi_create_object (env, &o));
      set_int (env, o, "index", i);
      set_str (env, o, "osname", ostree_deployment_get_osname (d));
      set_str (env, o, "csum", ostree_deployment_get_csum (d));
      set_int (env, o, "deployserial", ostree_deployment_get_deployserial (d));
      set_int (env, o, "bootserial", ostree_deployment_get_bootserial (d));
      set_str (env, o, "bootcsum", ostree_deployment_get_bootcsum (d));
      set_bool (env, o, "booted", booted != NULL && ostree_deployment_equal (d, booted));
      set_bool (env, o, "staged", ostree_deployment_is_staged (d));
      set_bool (env, o, "pinned", ostree_deployment_is_pinned (d));
      /* none, development, hotfix or transient (OSTree's unlock; the run state in /run or the origin) */
      set_str (env, o, "unlocked", ostree_deployment_unlocked_state_to_string (ostree_deployment_get_unlocked (d)));

      OstreeBootconfigParser *bc = ostree_deployment_get_bootconfig (d);
      const char *options = bc ? ostree_bootconfig_parser_get (bc, "options") : NULL;
      set_str (env, o, "options", options ? options : "");
      napi_value bcobj;
      CHECK (napi_create_object (env, &bcobj));
      static const char *const keys[] = { "title", "version", "linux", "initrd", "options", "devicetree", "aboot", NULL };
      for (const char *const *k = keys; bc && *k; k++)
        {
          const char *val = ostree_bootconfig_parser_get (bc, *k);
          if (val)
            set_str (env, bcobj, *k, val);
        }
      napi_set_named_property (env, o, "bootconfig", bcobj);

      g_autofree char *rel = ostree_sysroot_get_deployment_dirpath (sysroot, d);
      g_autoptr(GFile) dir = g_file_resolve_relative_path (root, rel);
      g_autoptr(GFile) origin = ostree_sysroot_get_deployment_origin_path (dir);
      g_autofree char *dir_path = g_file_get_path (dir);
      g_autofree char *origin_path = g_file_get_path (origin);
      set_str (env, o, "deployPath", dir_path);
      set_str (env, o, "originPath", origin_path);
      CHECK (napi_set_element (env, result, i, o));
    }
  return result;
}

/* ------------------------------------------------------------------------ */

typedef struct
{
  char *osname;
  char *csum;
  int deployserial;
} DeploymentId;

typedef struct
{
  napi_async_work work;
  napi_deferred deferred;
  char *sysroot;
  DeploymentId *ids;
  size_t n_ids;
  char *error;
} WriteJob;

static void
write_execute (napi_env env, void *data)
{
  WriteJob *job = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(OstreeSysroot) sysroot = NULL;
  gboolean locked = FALSE;
  (void)env;

  g_autoptr(GFile) f = g_file_new_for_path (job->sysroot);
  sysroot = ostree_sysroot_new (f);
  if (!ostree_sysroot_lock (sysroot, &error))
    goto out;
  locked = TRUE;
  if (!ostree_sysroot_load (sysroot, NULL, &error))
    goto out;
  {
    g_autoptr(GPtrArray) current = ostree_sysroot_get_deployments (sysroot);
    g_autoptr(GPtrArray) order = g_ptr_array_new_with_free_func (g_object_unref);
    for (size_t i = 0; i < job->n_ids; i++)
      {
        OstreeDeployment *found = NULL;
        for (guint j = 0; j < current->len; j++)
          {
            OstreeDeployment *d = current->pdata[j];
            if (g_str_equal (ostree_deployment_get_osname (d), job->ids[i].osname)
                && g_str_equal (ostree_deployment_get_csum (d), job->ids[i].csum)
                && ostree_deployment_get_deployserial (d) == job->ids[i].deployserial)
              found = d;
          }
        if (!found)
          {
            g_set_error (&error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no deployment %s %s.%d", job->ids[i].osname,
                         job->ids[i].csum, job->ids[i].deployserial);
            goto out;
          }
        g_ptr_array_add (order, g_object_ref (found));
      }
    if (!ostree_sysroot_write_deployments (sysroot, order, NULL, &error))
      goto out;
  }
out:
  if (locked)
    ostree_sysroot_unlock (sysroot);
  if (error)
    job->error = g_strdup (error->message);
}

static void
write_complete (napi_env env, napi_status status, void *data)
{
  WriteJob *job = data;
  if (status != napi_ok && !job->error)
    job->error = g_strdup ("the write was cancelled");
  if (job->error)
    {
      napi_value msg, err;
      napi_create_string_utf8 (env, job->error, NAPI_AUTO_LENGTH, &msg);
      napi_create_error (env, NULL, msg, &err);
      napi_reject_deferred (env, job->deferred, err);
    }
  else
    {
      napi_value undef;
      napi_get_undefined (env, &undef);
      napi_resolve_deferred (env, job->deferred, undef);
    }
  napi_delete_async_work (env, job->work);
  for (size_t i = 0; i < job->n_ids; i++)
    {
      g_free (job->ids[i].osname);
      g_free (job->ids[i].csum);
    }
  g_free (job->ids);
  g_free (job->sysroot);
  g_free (job->error);
  g_free (job);
}

static napi_value
write_deployments (napi_env env, napi_callback_info info)
{
  size_t argc = 2;
  napi_value argv[2];
  CHECK (napi_get_cb_info (env, info, &argc, argv, NULL, NULL));
  bool is_array = false;
  if (argc < 2 || napi_is_array (env, argv[1], &is_array) != napi_ok || !is_array)
    {
      napi_throw_type_error (env, NULL, "writeDeployments(sysrootPath, [{osname, csum, deployserial}])");
      return NULL;
    }
  char *sysroot = arg_string (env, argv[0], "sysrootPath");
  if (!sysroot)
    return NULL;
  uint32_t n = 0;
  napi_get_array_length (env, argv[1], &n);
  if (n == 0)
    {
      g_free (sysroot);
      napi_throw_error (env, NULL, "refusing to write an empty list of deployments");
      return NULL;
    }
  WriteJob *job = g_new0 (WriteJob, 1);
  job->sysroot = sysroot;
  job->ids = g_new0 (DeploymentId, n);
  job->n_ids = n;
  for (uint32_t i = 0; i < n; i++)
    {
      napi_value el, v;
      int32_t serial = -1;
      napi_get_element (env, argv[1], i, &el);
      if (napi_get_named_property (env, el, "osname", &v) != napi_ok
          || !(job->ids[i].osname = arg_string (env, v, "osname")))
        goto fail;
      if (napi_get_named_property (env, el, "csum", &v) != napi_ok || !(job->ids[i].csum = arg_string (env, v, "csum")))
        goto fail;
      if (napi_get_named_property (env, el, "deployserial", &v) != napi_ok
          || napi_get_value_int32 (env, v, &serial) != napi_ok)
        {
          napi_throw_type_error (env, NULL, "deployserial must be a number");
          goto fail;
        }
      job->ids[i].deployserial = serial;
    }

  napi_value promise, name;
  CHECK (napi_create_promise (env, &job->deferred, &promise));
  napi_create_string_utf8 (env, "ostree_write_deployments", NAPI_AUTO_LENGTH, &name);
  CHECK (napi_create_async_work (env, NULL, name, write_execute, write_complete, job, &job->work));
  CHECK (napi_queue_async_work (env, job->work));
  return promise;

fail:
  for (uint32_t i = 0; i < n; i++)
    {
      g_free (job->ids[i].osname);
      g_free (job->ids[i].csum);
    }
  g_free (job->ids);
  g_free (job->sysroot);
  g_free (job);
  return NULL;
}

/* ------------------------------------------------------------------------ */

static napi_value
variant_to_js (napi_env env, GVariant *v)
{
  napi_value r;
  const GVariantType *t = g_variant_get_type (v);
  if (g_variant_type_equal (t, G_VARIANT_TYPE_VARIANT))
    {
      g_autoptr(GVariant) inner = g_variant_get_variant (v);
      return variant_to_js (env, inner);
    }
  if (g_variant_type_equal (t, G_VARIANT_TYPE_STRING) || g_variant_type_equal (t, G_VARIANT_TYPE_OBJECT_PATH)
      || g_variant_type_equal (t, G_VARIANT_TYPE_SIGNATURE))
    napi_create_string_utf8 (env, g_variant_get_string (v, NULL), NAPI_AUTO_LENGTH, &r);
  else if (g_variant_type_equal (t, G_VARIANT_TYPE_BOOLEAN))
    napi_get_boolean (env, g_variant_get_boolean (v), &r);
  else if (g_variant_type_equal (t, G_VARIANT_TYPE_BYTE))
    napi_create_uint32 (env, g_variant_get_byte (v), &r);
  else if (g_variant_type_equal (t, G_VARIANT_TYPE_INT16))
    napi_create_int32 (env, g_variant_get_int16 (v), &r);
  else if (g_variant_type_equal (t, G_VARIANT_TYPE_UINT16))
    napi_create_uint32 (env, g_variant_get_uint16 (v), &r);
  else if (g_variant_type_equal (t, G_VARIANT_TYPE_INT32))
    napi_create_int32 (env, g_variant_get_int32 (v), &r);
  else if (g_variant_type_equal (t, G_VARIANT_TYPE_UINT32))
    napi_create_uint32 (env, g_variant_get_uint32 (v), &r);
  else if (g_variant_type_equal (t, G_VARIANT_TYPE_DOUBLE))
    napi_create_double (env, g_variant_get_double (v), &r);
  else if (g_variant_type_equal (t, G_VARIANT_TYPE_INT64))
    {
      gint64 x = g_variant_get_int64 (v);
      if (x > 9007199254740991LL || x < -9007199254740991LL)
        napi_create_bigint_int64 (env, x, &r);
      else
        napi_create_int64 (env, x, &r);
    }
  else if (g_variant_type_equal (t, G_VARIANT_TYPE_UINT64))
    {
      guint64 x = g_variant_get_uint64 (v);
      if (x > 9007199254740991ULL)
        napi_create_bigint_uint64 (env, x, &r);
      else
        napi_create_int64 (env, (gint64)x, &r);
    }
  else if (g_variant_type_equal (t, G_VARIANT_TYPE_STRING_ARRAY))
    {
      gsize n = 0;
      g_autofree const char **strv = g_variant_get_strv (v, &n);
      napi_create_array_with_length (env, n, &r);
      for (gsize i = 0; i < n; i++)
        {
          napi_value s;
          napi_create_string_utf8 (env, strv[i], NAPI_AUTO_LENGTH, &s);
          napi_set_element (env, r, i, s);
        }
    }
  else
    {
      g_autofree char *text = g_variant_print (v, TRUE);
      napi_create_string_utf8 (env, text, NAPI_AUTO_LENGTH, &r);
    }
  return r;
}

static napi_value
commit_info (napi_env env, napi_callback_info info)
{
  size_t argc = 2;
  napi_value argv[2];
  CHECK (napi_get_cb_info (env, info, &argc, argv, NULL, NULL));
  if (argc < 2)
    {
      napi_throw_type_error (env, NULL, "commitInfo(repoPath, rev)");
      return NULL;
    }
  g_autofree char *repo_path = arg_string (env, argv[0], "repoPath");
  if (!repo_path)
    return NULL;
  g_autofree char *rev = arg_string (env, argv[1], "rev");
  if (!rev)
    return NULL;

  g_autoptr(GError) error = NULL;
  g_autoptr(GFile) f = g_file_new_for_path (repo_path);
  g_autoptr(OstreeRepo) repo = ostree_repo_new (f);
  if (!ostree_repo_open (repo, NULL, &error))
    return throw_gerror (env, error);
  g_autofree char *csum = NULL;
  if (!ostree_repo_resolve_rev (repo, rev, FALSE, &csum, &error))
    return throw_gerror (env, error);
  g_autoptr(GVariant) commit = NULL;
  if (!ostree_repo_load_variant (repo, OSTREE_OBJECT_TYPE_COMMIT, csum, &commit, &error))
    return throw_gerror (env, error);

  napi_value o;
  CHECK (napi_create_object (env, &o));
  set_str (env, o, "checksum", csum);
  g_autofree char *parent = ostree_commit_get_parent (commit);
  set_str (env, o, "parent", parent);
  const char *subject = NULL, *body = NULL;
  g_variant_get_child (commit, 3, "&s", &subject);
  g_variant_get_child (commit, 4, "&s", &body);
  set_str (env, o, "subject", subject);
  set_str (env, o, "body", body);
  set_int (env, o, "timestamp", (gint64)ostree_commit_get_timestamp (commit));

  napi_value meta;
  CHECK (napi_create_object (env, &meta));
  g_autoptr(GVariant) md = g_variant_get_child_value (commit, 0);
  GVariantIter iter;
  const char *key;
  GVariant *value;
  g_variant_iter_init (&iter, md);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, &value))
    napi_set_named_property (env, meta, key, variant_to_js (env, value));
  napi_set_named_property (env, o, "metadata", meta);
  return o;
}

/* ------------------------------------------------------------------------ */

static napi_value
do_flock (napi_env env, napi_callback_info info)
{
  size_t argc = 3;
  napi_value argv[3];
  CHECK (napi_get_cb_info (env, info, &argc, argv, NULL, NULL));
  int32_t fd = -1;
  bool exclusive = true, nonblocking = true;
  if (argc < 3 || napi_get_value_int32 (env, argv[0], &fd) != napi_ok
      || napi_get_value_bool (env, argv[1], &exclusive) != napi_ok
      || napi_get_value_bool (env, argv[2], &nonblocking) != napi_ok)
    {
      napi_throw_type_error (env, NULL, "flock(fd, exclusive, nonblocking)");
      return NULL;
    }
  int op = (exclusive ? LOCK_EX : LOCK_SH) | (nonblocking ? LOCK_NB : 0);
  int rc;
  do
    rc = flock (fd, op);
  while (rc < 0 && errno == EINTR);
  napi_value r;
  if (rc == 0)
    napi_get_boolean (env, true, &r);
  else if (errno == EWOULDBLOCK)
    napi_get_boolean (env, false, &r);
  else
    {
      napi_throw_error (env, NULL, g_strerror (errno));
      return NULL;
    }
  return r;
}

static napi_value
init (napi_env env, napi_value exports)
{
  napi_property_descriptor props[] = {
    { "listDeployments", NULL, list_deployments, NULL, NULL, NULL, napi_default, NULL },
    { "writeDeployments", NULL, write_deployments, NULL, NULL, NULL, napi_default, NULL },
    { "commitInfo", NULL, commit_info, NULL, NULL, NULL, napi_default, NULL },
    { "flock", NULL, do_flock, NULL, NULL, NULL, napi_default, NULL },
  };
  CHECK (napi_define_properties (env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE (NODE_GYP_MODULE_NAME, init)
