#include "interrupt_message.h"

#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

// Two buffers: the handler reads the one `current` names, the setter fills the other and
// then switches, so the handler never sees a half-written line.
static char buffers[2][1025];
static atomic_int current = -1;
// Helper processes that MPI forks inherit the handler; only the installing process speaks.
static pid_t owner = 0;
// A signal sent to the process and to its group arrives twice, possibly on two threads at
// once: the first handler writes the line.
static atomic_flag spoken = ATOMIC_FLAG_INIT;

static void on_signal(int sig) {
    if (atomic_flag_test_and_set(&spoken)) {
        for (;;) pause();  // another thread is writing the line and will end the process
    }
    int index = atomic_load(&current);
    if (index >= 0 && getpid() == owner) {
        const char *text = buffers[index];
        size_t length = strlen(text);
        ssize_t written = write(STDERR_FILENO, text, length);
        (void)written;
    }
    _exit(128 + sig);
}

void seti_install_interrupt_handlers(void) {
    struct sigaction action;
    owner = getpid();
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
}

void seti_set_interrupt_message(const char *message) {
    int next = atomic_load(&current) == 0 ? 1 : 0;
    size_t length = strlen(message);
    if (length > 1023) length = 1023;
    memcpy(buffers[next], message, length);
    buffers[next][length] = '\n';
    buffers[next][length + 1] = '\0';
    atomic_store(&current, next);
}
