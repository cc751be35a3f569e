// The line a stopped run prints: SIGINT and SIGTERM end the process at once, and the
// handler may only call async-signal-safe functions, so the line is kept ready in a
// static buffer, updated as the run goes, and written with write(2).
#ifndef SETI_INTERRUPT_MESSAGE_H
#define SETI_INTERRUPT_MESSAGE_H

/// Installs handlers for SIGINT and SIGTERM that write the current message (if any) to
/// standard error and end the process with status 128 + the signal.
void seti_install_interrupt_handlers(void);

/// Sets the message (at most 1023 bytes are kept; a newline is added).
void seti_set_interrupt_message(const char *message);

#endif
