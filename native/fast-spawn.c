/*
 * fast-spawn: starts a CGI process with posix_spawn (glibc uses clone(CLONE_VM|CLONE_VFORK),
 * so the cost does not grow with the server's heap as fork() does), in a new process group,
 * with default signal dispositions (Node ignores SIGPIPE; scripts must not inherit that),
 * and returns the parent's ends of three pipes. Reaping is explicit: reap(pid).
 * It also gives the server inotify: the event loop polls the queue and a counter in shared
 * memory tells a request whether anything changed (or the queue is read at the start of a
 * request), so an edit made before a request is always seen by it.
 * With resource limits (RLimitCPU/MEM/NPROC) the child is started with fork() instead, because
 * setrlimit must run in the child between fork and exec (apr_proc_create's limit_proc does the
 * same for mod_cgid); posix_spawn has no attribute for it.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <pthread.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * An environment string as bytes. htsandbox keeps request and configuration text as byte
 * strings (one UTF-16 unit per byte, as Buffer's latin1), and Apache hands scripts those bytes
 * as they are (a decoded %E9 in PATH_INFO is the byte 0xE9): each unit is one byte. A string
 * with a unit above 0xFF is not a byte string but text, and goes as UTF-8.
 */
static char *byte_string(napi_env env, napi_value v) {
  size_t units = 0;
  napi_get_value_string_utf16(env, v, NULL, 0, &units);
  char16_t *text = malloc((units + 1) * sizeof(char16_t));
  napi_get_value_string_utf16(env, v, text, units + 1, &units);
  int wide = 0;
  for (size_t i = 0; i < units && !wide; i++) wide = text[i] > 0xff;
  char *out;
  if (wide) {
    size_t len = 0;
    napi_get_value_string_utf8(env, v, NULL, 0, &len);
    out = malloc(len + 1);
    napi_get_value_string_utf8(env, v, out, len + 1, &len);
  } else {
    out = malloc(units + 1);
    for (size_t i = 0; i < units; i++) out[i] = (char)text[i];
    out[units] = 0;
  }
  free(text);
  return out;
}

/* An array of strings: UTF-8 (paths and arguments, as Node's fs writes them), or byte strings. */
static char **string_array(napi_env env, napi_value arr, int bytes) {
  uint32_t n = 0;
  napi_get_array_length(env, arr, &n);
  char **out = calloc(n + 1, sizeof(char *));
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    size_t len = 0;
    napi_get_element(env, arr, i, &v);
    if (bytes) {
      out[i] = byte_string(env, v);
      continue;
    }
    napi_get_value_string_utf8(env, v, NULL, 0, &len);
    out[i] = malloc(len + 1);
    napi_get_value_string_utf8(env, v, out[i], len + 1, &len);
  }
  return out;
}

static void free_array(char **a) {
  for (char **p = a; *p; p++) free(*p);
  free(a);
}

static char *string_arg(napi_env env, napi_value v) {
  size_t len = 0;
  napi_get_value_string_utf8(env, v, NULL, 0, &len);
  char *s = malloc(len + 1);
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

static napi_value throw_errno(napi_env env, int err, const char *what) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value code, message, error;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_int32(env, err, &code);
  napi_create_error(env, NULL, message, &error);
  napi_set_named_property(env, error, "errno", code);
  napi_throw(env, error);
  return NULL;
}

/* One resource limit to set in the child: RLIMIT_* number, soft and hard (-1: RLIM_INFINITY). */
struct child_limit {
  int resource;
  struct rlimit value;
};

/*
 * fork, then in the child: default signals, own process group, the three fds, cwd, setrlimit,
 * execve. Only async-signal-safe calls run in the child (the server has threads). An exec or
 * setup failure travels back as errno over a close-on-exec pipe: nothing read means exec worked.
 */
static int fork_exec_limited(pid_t *out_pid, const char *program, char **args, char **envp, const char *cwd,
                             int fd_in, int fd_out, int fd_err, const struct child_limit *limits, int nlimits) {
  int report[2];
  if (pipe2(report, O_CLOEXEC)) return errno;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = fork();
  if (pid == 0) {
    int e = 0;
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, NULL);
    if (setpgid(0, 0)) e = errno;
    if (!e && (dup2(fd_in, 0) < 0 || dup2(fd_out, 1) < 0 || dup2(fd_err, 2) < 0)) e = errno;
    if (!e && chdir(cwd)) e = errno;
    for (int i = 0; !e && i < nlimits; i++)
      if (setrlimit(limits[i].resource, &limits[i].value)) e = errno;
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (!e) {
      execve(program, args, envp);
      e = errno;
    }
    ssize_t w = write(report[1], &e, sizeof e);
    (void)w;
    _exit(127);
  }
  int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  close(report[1]);
  if (pid < 0) {
    close(report[0]);
    return fork_errno;
  }
  int child_errno = 0;
  ssize_t n;
  do n = read(report[0], &child_errno, sizeof child_errno); while (n < 0 && errno == EINTR);
  close(report[0]);
  if (n == (ssize_t)sizeof child_errno && child_errno != 0) {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    return child_errno;
  }
  *out_pid = pid;
  return 0;
}

static double number_arg(napi_env env, napi_value v) {
  double out = -1;
  napi_get_value_double(env, v, &out);
  return out;
}

/*
 * spawn(program, argv[], envp[], cwd[, fd0[, limits]]) -> [pid, stdinFd, stdoutFd, stderrFd]
 * With fd0 (a FastCGI listening socket; -1 for none), the child's fd 0 is that socket and stdinFd
 * is -1. limits: a flat array of [resource, soft, hard] triples (-1: unlimited).
 */
static napi_value Spawn(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd0 = -1;
  if (argc >= 5) napi_get_value_int32(env, argv[4], &fd0);
  struct child_limit limits[8];
  int nlimits = 0;
  if (argc >= 6) {
    uint32_t n = 0;
    napi_get_array_length(env, argv[5], &n);
    for (uint32_t i = 0; i + 2 < n && nlimits < 8; i += 3) {
      napi_value r, soft, hard;
      napi_get_element(env, argv[5], i, &r);
      napi_get_element(env, argv[5], i + 1, &soft);
      napi_get_element(env, argv[5], i + 2, &hard);
      double sv = number_arg(env, soft), hv = number_arg(env, hard);
      limits[nlimits].resource = (int)number_arg(env, r);
      limits[nlimits].value.rlim_cur = sv < 0 ? RLIM_INFINITY : (rlim_t)sv;
      limits[nlimits].value.rlim_max = hv < 0 ? RLIM_INFINITY : (rlim_t)hv;
      nlimits++;
    }
  }
  char *program = string_arg(env, argv[0]);
  char **args = string_array(env, argv[1], 0);
  char **envp = string_array(env, argv[2], 1);
  char *cwd = string_arg(env, argv[3]);

  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
    int e = errno;
    /* Out of fds (EMFILE) midway: the pipes already made must not outlive the failed call. */
    int *made[] = {in, out, err};
    for (int i = 0; i < 3; i++)
      for (int j = 0; j < 2; j++)
        if (made[i][j] >= 0) close(made[i][j]);
    free(program); free(cwd); free_array(args); free_array(envp);
    return throw_errno(env, e, "pipe2");
  }
  pid_t pid = 0;
  int rc;
  if (nlimits > 0) {
    rc = fork_exec_limited(&pid, program, args, envp, cwd, fd0 >= 0 ? fd0 : in[0], out[1], err[1], limits, nlimits);
    goto started;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fd0 >= 0 ? fd0 : in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  posix_spawn_file_actions_addchdir_np(&fa, cwd);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_USEVFORK);

  rc = posix_spawn(&pid, program, &fa, &attr, args, envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
started:
  close(in[0]);
  close(out[1]);
  close(err[1]);
  if (fd0 >= 0) {
    close(in[1]);
    in[1] = -1;
  }
  free(program); free(cwd); free_array(args); free_array(envp);
  if (rc != 0) {
    if (in[1] >= 0) close(in[1]);
    close(out[0]); close(err[0]);
    return throw_errno(env, rc, "posix_spawn");
  }
  napi_value result, v;
  napi_create_array_with_length(env, 4, &result);
  int values[4] = {pid, in[1], out[0], err[0]};
  for (int i = 0; i < 4; i++) {
    napi_create_int32(env, values[i], &v);
    napi_set_element(env, result, i, v);
  }
  return result;
}

/* reap(pid) -> exit status (>= 0), -1 while it runs, -2 when it is not our child */
static napi_value Reap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t pid = 0;
  napi_get_value_int32(env, argv[0], &pid);
  int status = 0;
  pid_t r = waitpid(pid, &status, WNOHANG);
  int out = r == 0 ? -1 : r < 0 ? -2 : (WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  napi_value v;
  napi_create_int32(env, out, &v);
  return v;
}

/* listenUnix(path, backlog) -> fd: a listening Unix socket (mode 0700) for a FastCGI app's fd 0 */
static napi_value ListenUnix(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char *path = string_arg(env, argv[0]);
  int32_t backlog = 5;
  napi_get_value_int32(env, argv[1], &backlog);
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof addr.sun_path) {
    free(path);
    return throw_errno(env, ENAMETOOLONG, "listenUnix");
  }
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int e = errno;
    free(path);
    return throw_errno(env, e, "socket");
  }
  mode_t old = umask(0077);
  int rc = bind(fd, (struct sockaddr *)&addr, sizeof addr);
  umask(old);
  if (rc < 0 || listen(fd, backlog) < 0) {
    int e = errno;
    close(fd);
    free(path);
    return throw_errno(env, e, "bind/listen");
  }
  free(path);
  napi_value v;
  napi_create_int32(env, fd, &v);
  return v;
}

/* closeFd(fd) */
static napi_value CloseFd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1;
  napi_get_value_int32(env, argv[0], &fd);
  if (fd >= 0) close(fd);
  return NULL;
}

/*
 * pollIn(fd, timeoutMs) -> 1 when fd is readable (or at EOF), 0 on timeout, -errno on error.
 * For RewriteMap programs: mod_rewrite's lookup is synchronous, so is ours, but bounded.
 */
static napi_value PollIn(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1, timeout = 0;
  napi_get_value_int32(env, argv[0], &fd);
  napi_get_value_int32(env, argv[1], &timeout);
  struct pollfd p = { .fd = fd, .events = POLLIN };
  int rc;
  do rc = poll(&p, 1, timeout); while (rc < 0 && errno == EINTR);
  napi_value v;
  napi_create_int32(env, rc < 0 ? -errno : rc > 0 ? 1 : 0, &v);
  return v;
}

static int32_t int_arg(napi_env env, napi_value v) {
  int32_t out = -1;
  napi_get_value_int32(env, v, &out);
  return out;
}

static napi_value int_result(napi_env env, int32_t n) {
  napi_value v;
  napi_create_int32(env, n, &v);
  return v;
}

/* inotifyInit() -> a non-blocking inotify fd, or -errno */
static napi_value InotifyInit(napi_env env, napi_callback_info info) {
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  return int_result(env, fd < 0 ? -errno : fd);
}

/* inotifyWatch(fd, path) -> watch descriptor, or -errno: every change of a directory's entries or of itself */
static napi_value InotifyWatch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = int_arg(env, argv[0]);
  char *path = string_arg(env, argv[1]);
  uint32_t mask = IN_ATTRIB | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MODIFY | IN_MOVE_SELF | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE;
  int wd = inotify_add_watch(fd, path, mask);
  int e = errno;
  free(path);
  return int_result(env, wd < 0 ? -e : wd);
}

/* Reads the inotify queue until it is empty: the number of events, -1 on overflow or error. */
static int32_t drain_inotify(int fd) {
  char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
  int32_t count = 0;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      return -1;
    }
    if (n == 0) break;
    for (char *p = buf; p < buf + n;) {
      struct inotify_event *ev = (struct inotify_event *)p;
      if (ev->mask & IN_Q_OVERFLOW) count = -1;
      else if (count >= 0) count++;
      p += sizeof(struct inotify_event) + ev->len;
    }
  }
  return count;
}

/* inotifyDrain(fd) -> number of events read (0: nothing changed), -1 on queue overflow or error */
static napi_value InotifyDrain(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  return int_result(env, drain_inotify(int_arg(env, argv[0])));
}

/*
 * The inotify queue watched by the event loop itself. Reading the queue at the start of every
 * request cost a read() that found nothing, about 3 us on the VMs measured (docs/performance.md,
 * session 11). Instead libuv polls the queue with the connections: when it is readable, this
 * callback drains it and bumps a counter in memory the server reads without a call. The
 * kernel queues an event before the writing call returns, so an edit made before a request was
 * sent is ready before that request's bytes, and epoll reports ready descriptors in the order
 * they became ready: the counter has moved when the request is handled.
 */
typedef struct {
  uv_poll_t handle;
  int fd;
  /* counts[0]: times the queue had events; counts[1]: 1 once the queue cannot be read. */
  int32_t *counts;
  napi_env env;
  napi_ref keep; /* the counts' ArrayBuffer, alive as long as the poll */
  napi_async_cleanup_hook_handle cleanup;
} inotify_poll;

static void on_inotify_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  inotify_poll *w = handle->data;
  int32_t n = status < 0 ? -1 : drain_inotify(w->fd);
  if (n != 0) w->counts[0]++;
  if (status < 0) {
    /* The descriptor failed: no more news from it, so every request must look again. */
    w->counts[1] = 1;
    uv_poll_stop(handle);
  }
}

static void on_inotify_poll_closed(uv_handle_t *handle) {
  inotify_poll *w = handle->data;
  napi_delete_reference(w->env, w->keep);
  napi_remove_async_cleanup_hook(w->cleanup);
  free(w);
}

/* The environment ends (a worker thread's): the handle must be closed before its loop is. */
static void inotify_poll_cleanup(napi_async_cleanup_hook_handle hook, void *arg) {
  (void)hook;
  inotify_poll *w = arg;
  uv_poll_stop(&w->handle);
  uv_close((uv_handle_t *)&w->handle, on_inotify_poll_closed);
}

static void on_failed_poll_closed(uv_handle_t *handle) {
  free(handle->data);
}

/* inotifyPollInLoop(fd, counts: Int32Array of 2 over its own ArrayBuffer) -> 0 or -errno */
static napi_value InotifyPollInLoop(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = int_arg(env, argv[0]);
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  napi_value buffer;
  size_t offset = 0;
  if (argc < 2 || napi_get_typedarray_info(env, argv[1], &type, &length, &data, &buffer, &offset) != napi_ok || type != napi_int32_array || length < 2)
    return int_result(env, -EINVAL);
  uv_loop_t *loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop) return int_result(env, -ENOSYS);
  inotify_poll *w = calloc(1, sizeof *w);
  if (!w) return int_result(env, -ENOMEM);
  w->fd = fd;
  w->counts = data;
  w->env = env;
  int rc = uv_poll_init(loop, &w->handle, fd);
  if (rc < 0) {
    free(w);
    return int_result(env, rc);
  }
  w->handle.data = w;
  rc = uv_poll_start(&w->handle, UV_READABLE, on_inotify_readable);
  if (rc < 0) {
    uv_close((uv_handle_t *)&w->handle, on_failed_poll_closed);
    return int_result(env, rc);
  }
  /* A watcher does not keep the process alive. */
  uv_unref((uv_handle_t *)&w->handle);
  napi_create_reference(env, buffer, 1, &w->keep);
  napi_add_async_cleanup_hook(env, inotify_poll_cleanup, w, &w->cleanup);
  return int_result(env, 0);
}

/*
 * setChildSubreaper() -> 0 or -errno: orphans of our scripts (a `sleep 300 &`, a double-forked
 * daemon, even one that called setsid) re-parent to this process instead of init while it lives,
 * so they can be found, reaped and ended at shutdown.
 */
static napi_value SetChildSubreaper(napi_env env, napi_callback_info info) {
  (void)info;
  return int_result(env, prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) ? -errno : 0);
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "setChildSubreaper", NAPI_AUTO_LENGTH, SetChildSubreaper, NULL, &fn);
  napi_set_named_property(env, exports, "setChildSubreaper", fn);
  napi_create_function(env, "inotifyInit", NAPI_AUTO_LENGTH, InotifyInit, NULL, &fn);
  napi_set_named_property(env, exports, "inotifyInit", fn);
  napi_create_function(env, "inotifyWatch", NAPI_AUTO_LENGTH, InotifyWatch, NULL, &fn);
  napi_set_named_property(env, exports, "inotifyWatch", fn);
  napi_create_function(env, "inotifyDrain", NAPI_AUTO_LENGTH, InotifyDrain, NULL, &fn);
  napi_set_named_property(env, exports, "inotifyDrain", fn);
  napi_create_function(env, "inotifyPollInLoop", NAPI_AUTO_LENGTH, InotifyPollInLoop, NULL, &fn);
  napi_set_named_property(env, exports, "inotifyPollInLoop", fn);
  napi_create_function(env, "pollIn", NAPI_AUTO_LENGTH, PollIn, NULL, &fn);
  napi_set_named_property(env, exports, "pollIn", fn);
  napi_create_function(env, "spawn", NAPI_AUTO_LENGTH, Spawn, NULL, &fn);
  napi_set_named_property(env, exports, "spawn", fn);
  napi_create_function(env, "reap", NAPI_AUTO_LENGTH, Reap, NULL, &fn);
  napi_set_named_property(env, exports, "reap", fn);
  napi_create_function(env, "listenUnix", NAPI_AUTO_LENGTH, ListenUnix, NULL, &fn);
  napi_set_named_property(env, exports, "listenUnix", fn);
  napi_create_function(env, "closeFd", NAPI_AUTO_LENGTH, CloseFd, NULL, &fn);
  napi_set_named_property(env, exports, "closeFd", fn);
  /* spawn's environment strings are byte strings (byte_string); a helper built before says nothing. */
  napi_value yes;
  napi_get_boolean(env, 1, &yes);
  napi_set_named_property(env, exports, "envBytes", yes);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
