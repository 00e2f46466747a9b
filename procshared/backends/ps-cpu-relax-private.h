/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/* A pause while polling a word another CPU is about to change. Without
 * it, a spinning thread takes execution resources from its sibling
 * hyperthread (which may be the very holder it waits for) and pays a
 * memory-order flush when it leaves the loop. It depends on the CPU, not
 * on the backend, so every backend spins the same way. */
static inline void
ps_cpu_relax (void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause ();
#elif defined(__aarch64__)
  __asm__ __volatile__ ("yield" ::: "memory");
#else
  /* No portable hint: at least make the loop reload what it polls. */
  __asm__ __volatile__ ("" ::: "memory");
#endif
}
