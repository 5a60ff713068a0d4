/*
 * fast-spawn: starts a CGI process with posix_spawn (glibc uses clone(CLONE_VM|CLONE_VFORK),
 * so the cost does not grow with the server's heap as fork() does), in a new process group,
 * with default signal dispositions (Node ignores SIGPIPE; scripts must not inherit that),
 * and returns the parent's ends of three pipes. Reaping is explicit: reap(pid).
 * It also gives the server inotify without libuv's event loop: the static path drains the
 * queue synchronously at the start of each request, so an edit made before a request is
 * always seen by it.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static char **string_array(napi_env env, napi_value arr) {
  uint32_t n = 0;
  napi_get_array_length(env, arr, &n);
  char **out = calloc(n + 1, sizeof(char *));
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    size_t len = 0;
    napi_get_element(env, arr, i, &v);
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

/*
 * spawn(program, argv[], envp[], cwd[, fd0]) -> [pid, stdinFd, stdoutFd, stderrFd]
 * With fd0 (a FastCGI listening socket), the child's fd 0 is that socket and stdinFd is -1.
 */
static napi_value Spawn(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd0 = -1;
  if (argc >= 5) napi_get_value_int32(env, argv[4], &fd0);
  char *program = string_arg(env, argv[0]);
  char **args = string_array(env, argv[1]);
  char **envp = string_array(env, argv[2]);
  char *cwd = string_arg(env, argv[3]);

  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
    int e = errno;
    free(program); free(cwd); free_array(args); free_array(envp);
    return throw_errno(env, e, "pipe2");
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

  pid_t pid = 0;
  int rc = posix_spawn(&pid, program, &fa, &attr, args, envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
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

/* inotifyDrain(fd) -> number of events read (0: nothing changed), -1 on queue overflow or error */
static napi_value InotifyDrain(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = int_arg(env, argv[0]);
  char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
  int32_t count = 0;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      return int_result(env, -1);
    }
    if (n == 0) break;
    for (char *p = buf; p < buf + n;) {
      struct inotify_event *ev = (struct inotify_event *)p;
      if (ev->mask & IN_Q_OVERFLOW) count = -1;
      else if (count >= 0) count++;
      p += sizeof(struct inotify_event) + ev->len;
    }
  }
  return int_result(env, count);
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "inotifyInit", NAPI_AUTO_LENGTH, InotifyInit, NULL, &fn);
  napi_set_named_property(env, exports, "inotifyInit", fn);
  napi_create_function(env, "inotifyWatch", NAPI_AUTO_LENGTH, InotifyWatch, NULL, &fn);
  napi_set_named_property(env, exports, "inotifyWatch", fn);
  napi_create_function(env, "inotifyDrain", NAPI_AUTO_LENGTH, InotifyDrain, NULL, &fn);
  napi_set_named_property(env, exports, "inotifyDrain", fn);
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
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
