#include "tfquiet.h"

static int saved_stderr = -1; // the real stderr while it is parked
static int captured = -1;     // the memory file that stands in for it
static int level = 1;         // TF_CPP_MIN_LOG_LEVEL in force

int tfquiet_level(void) { return level; }

// reexec starts the program again with TF_CPP_MIN_LOG_LEVEL=1 in its
// environment. TensorFlow reads the level once, while it initialises, and
// a setenv here would not reach it (libc sets up environ after this
// hook), so the level has to be in the environment the process starts
// with. The libraries are mapped but not yet initialised, so this costs
// milliseconds. If the exec fails the program goes on, at TensorFlow's
// default level.
static void reexec(char **argv, char **envp) {
  static const char var[] = "TF_CPP_MIN_LOG_LEVEL=";
  size_t n = 0;
  while (envp[n] != NULL) {
    n++;
  }
  char **env = calloc(n + 3, sizeof(char *));
  if (env == NULL) {
    return;
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (strncmp(envp[i], var, sizeof var - 1) != 0 && strcmp(envp[i], "QAT_TFQUIET_STARTED=1") != 0) {
      env[k++] = envp[i];
    }
  }
  env[k++] = "TF_CPP_MIN_LOG_LEVEL=1";
  env[k++] = "QAT_TFQUIET_STARTED=1";
  env[k] = NULL;
  execve("/proc/self/exe", argv, env);
  free(env);
}

static void park(int argc, char **argv, char **envp) {
  (void)argc;
  // envp, not getenv: libc has not set up environ when this hook runs.
  const char *env = NULL;
  int again = 0; // started by reexec: never start again
  for (char **e = envp; *e != NULL; e++) {
    if (env == NULL && strncmp(*e, "TF_CPP_MIN_LOG_LEVEL=", 21) == 0) {
      env = *e + 21; // the first, as getenv finds it
    }
    again |= strcmp(*e, "QAT_TFQUIET_STARTED=1") == 0;
  }
  if ((env == NULL || *env == '\0') && !again) {
    reexec(argv, envp);
  } else if (env != NULL && *env != '\0') {
    level = atoi(env);
  }
  if (level <= 0) {
    return; // show everything: nothing to filter
  }
  captured = memfd_create("tfquiet", MFD_CLOEXEC);
  if (captured < 0) {
    return;
  }
  saved_stderr = fcntl(2, F_DUPFD_CLOEXEC, 3);
  if (saved_stderr < 0 || dup2(captured, 2) < 0) {
    close(captured);
    captured = -1;
    if (saved_stderr >= 0) {
      close(saved_stderr);
      saved_stderr = -1;
    }
  }
}

__attribute__((section(".preinit_array"), used)) static void (*const tfquiet_preinit)(int, char **, char **) = park;

// hidden reports whether a captured line is a log line below the level:
// absl's "I0000 ...", "W0000 ...", "E0000 ..." lines, and absl's notice
// that logs go to stderr before absl::InitializeLog.
static int hidden(const char *line) {
  int severity = -1;
  switch (line[0]) {
  case 'I': severity = 0; break;
  case 'W': severity = 1; break;
  case 'E': severity = 2; break;
  }
  if (severity >= 0 && line[1] >= '0' && line[1] <= '9' && line[2] >= '0' && line[2] <= '9') {
    return severity < level;
  }
  if (strncmp(line, "WARNING: All log messages before absl::InitializeLog()", 55) == 0) {
    return 1;
  }
  return 0;
}

__attribute__((constructor)) static void release(void) {
  unsetenv("QAT_TFQUIET_STARTED"); // the program's children start afresh
  if (captured < 0) {
    return;
  }
  dup2(saved_stderr, 2);
  close(saved_stderr);
  saved_stderr = -1;
  off_t n = lseek(captured, 0, SEEK_END);
  if (n > 0 && n < (1 << 24)) {
    char *buf = malloc((size_t)n + 1);
    if (buf != NULL && pread(captured, buf, (size_t)n, 0) == n) {
      buf[n] = '\0';
      for (char *line = buf; *line != '\0';) {
        char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) + 1 : strlen(line);
        if (!hidden(line)) {
          ssize_t w = write(2, line, len);
          (void)w;
        }
        line += len;
      }
    }
    free(buf);
  }
  close(captured);
  captured = -1;
}
