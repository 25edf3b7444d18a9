// tfquiet's C side: a .preinit_array hook (it runs before any shared
// library's initialisers) parks stderr in a memory file, and a constructor
// of the executable (it runs after them) restores stderr and replays the
// captured lines that TF_CPP_MIN_LOG_LEVEL lets through.
#ifndef QAT_TFQUIET_H
#define QAT_TFQUIET_H

#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int tfquiet_level(void);

#endif
