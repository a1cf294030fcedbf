// SPDX-License-Identifier: GPL-2.0
/*
 * shv-run: a 16550A UART at COM1 (0x3f8-0x3ff).
 *
 * Transmission is instantaneous: THR writes go straight to stdout
 * (unbuffered) and LSR always reports THRE|TEMT.  Received bytes come
 * from stdin when it is a terminal or a pipe: an input thread moves them
 * into the receive FIFO as they arrive and as long as there is room.
 * MCR loopback feeds THR back into the receiver and the modem control
 * outputs into MSR, as on the real part.
 *
 * Interrupts follow QEMU's 16550A: IIR reports, in priority order,
 * receiver line status (overrun), received data (FIFO at or above the
 * trigger level; below it, the character timeout, at once), THR empty
 * and modem status, each when enabled in IER.  The THR-empty condition
 * is set when THR empties (at once after a write) and when IER.THRI is
 * turned on with THR empty; reading IIR while it is the reported source,
 * or writing THR, clears it.  The output drives IRQ 4 (GSI 4) whenever
 * IIR reports something, whatever MCR.OUT2 says (as QEMU does), and the
 * line is only touched when that changes.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "../bus.h"
#include "../dev.h"
#include "../pc.h"
#include "../vm.h"

#define COM1_BASE	0x3f8
#define UART_NR_REGS	8
#define UART_FIFO_SIZE	16

/* register offsets */
#define UART_RBR	0	/* read, DLAB=0 */
#define UART_THR	0	/* write, DLAB=0 */
#define UART_DLL	0	/* DLAB=1 */
#define UART_IER	1	/* DLAB=0 */
#define UART_DLM	1	/* DLAB=1 */
#define UART_IIR	2	/* read */
#define UART_FCR	2	/* write */
#define UART_LCR	3
#define UART_MCR	4
#define UART_LSR	5
#define UART_MSR	6
#define UART_SCR	7

#define IER_RDI		0x01	/* received data available */
#define IER_THRI	0x02	/* THR empty */
#define IER_RLSI	0x04	/* receiver line status */
#define IER_MSI		0x08	/* modem status */

#define IIR_NO_INT	0x01
#define IIR_MSI		0x00
#define IIR_THRI	0x02
#define IIR_RDI		0x04
#define IIR_RLSI	0x06
#define IIR_CTI		0x0c	/* character timeout */
#define IIR_FIFO_ON	0xc0

#define FCR_ENABLE	0x01
#define FCR_CLEAR_RX	0x02
#define FCR_CLEAR_TX	0x04
#define FCR_TRIGGER	0xc0

#define LCR_DLAB	0x80

#define MCR_DTR		0x01
#define MCR_RTS		0x02
#define MCR_OUT1	0x04
#define MCR_OUT2	0x08
#define MCR_LOOP	0x10
#define MCR_MASK	0x1f

#define LSR_DR		0x01
#define LSR_OE		0x02
#define LSR_THRE	0x20
#define LSR_TEMT	0x40

#define MSR_DCTS	0x01
#define MSR_DDSR	0x02
#define MSR_TERI	0x04
#define MSR_DDCD	0x08
#define MSR_CTS		0x10
#define MSR_DSR		0x20
#define MSR_RI		0x40
#define MSR_DCD		0x80
#define MSR_DELTAS	0x0f

struct uart {
	pthread_mutex_t lock;
	pthread_cond_t rx_space;	/* the guest took bytes from the FIFO */
	struct vm *vm;
	bool irq_level;		/* what the line was last driven to */
	u8 ier, lcr, mcr, fcr, scr, dll, dlm;
	u8 msr;			/* lines in 7:4, deltas in 3:0 */
	bool overrun;
	bool thre_pending;	/* THR-empty condition not yet acknowledged */
	u8 rx[UART_FIFO_SIZE];
	unsigned int rx_head, rx_count;

	int in_fd;		/* -1: no input */
	bool in_tty;
	bool tty_changed;
	struct termios saved_tio;
	pthread_t in_thread;
	bool in_thread_started;
	bool stop;
	int stop_pipe[2];
};

static struct uart com1 = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.rx_space = PTHREAD_COND_INITIALIZER,
	.in_fd = -1,
	.stop_pipe = { -1, -1 },
};

static unsigned int rx_capacity(struct uart *u)
{
	return (u->fcr & FCR_ENABLE) ? UART_FIFO_SIZE : 1;
}

static void rx_push(struct uart *u, u8 c)
{
	if (u->rx_count >= rx_capacity(u)) {
		u->overrun = true;
		/* non-FIFO mode: the new byte replaces the old one */
		if (!(u->fcr & FCR_ENABLE))
			u->rx[u->rx_head] = c;
		return;
	}
	u->rx[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = c;
	u->rx_count++;
}

static u8 rx_pop(struct uart *u)
{
	u8 c;

	if (!u->rx_count)
		return 0;
	c = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
	u->rx_count--;
	return c;
}

static void rx_clear(struct uart *u)
{
	u->rx_head = 0;
	u->rx_count = 0;
}

static void uart_tx(struct uart *u, u8 c)
{
	if (u->mcr & MCR_LOOP) {
		rx_push(u, c);
	} else {
		while (write(STDOUT_FILENO, &c, 1) < 0 && errno == EINTR)
			;
	}
	u->thre_pending = true;
}

static u8 modem_lines(struct uart *u)
{
	u8 lines = 0;

	if (!(u->mcr & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;	/* a connected cable */
	if (u->mcr & MCR_DTR)
		lines |= MSR_DSR;
	if (u->mcr & MCR_RTS)
		lines |= MSR_CTS;
	if (u->mcr & MCR_OUT1)
		lines |= MSR_RI;
	if (u->mcr & MCR_OUT2)
		lines |= MSR_DCD;
	return lines;
}

static void update_msr(struct uart *u)
{
	u8 old = u->msr & ~MSR_DELTAS, new = modem_lines(u);
	u8 delta = u->msr & MSR_DELTAS;

	if ((old ^ new) & MSR_CTS)
		delta |= MSR_DCTS;
	if ((old ^ new) & MSR_DSR)
		delta |= MSR_DDSR;
	if ((old & MSR_RI) && !(new & MSR_RI))
		delta |= MSR_TERI;
	if ((old ^ new) & MSR_DCD)
		delta |= MSR_DDCD;
	u->msr = new | delta;
}

static u8 uart_lsr(struct uart *u)
{
	u8 lsr = LSR_THRE | LSR_TEMT;

	if (u->rx_count)
		lsr |= LSR_DR;
	if (u->overrun)
		lsr |= LSR_OE;
	return lsr;
}

static unsigned int rx_trigger(struct uart *u)
{
	static const u8 levels[4] = { 1, 4, 8, 14 };

	return (u->fcr & FCR_ENABLE) ? levels[u->fcr >> 6] : 1;
}

static u8 uart_iir(struct uart *u)
{
	u8 iir;

	if ((u->ier & IER_RLSI) && u->overrun)
		iir = IIR_RLSI;
	else if ((u->ier & IER_RDI) && u->rx_count)
		iir = u->rx_count >= rx_trigger(u) ? IIR_RDI : IIR_CTI;
	else if ((u->ier & IER_THRI) && u->thre_pending)
		iir = IIR_THRI;
	else if ((u->ier & IER_MSI) && (u->msr & MSR_DELTAS))
		iir = IIR_MSI;
	else
		iir = IIR_NO_INT;
	if (u->fcr & FCR_ENABLE)
		iir |= IIR_FIFO_ON;
	return iir;
}

/* Call with the lock held after anything that may change IIR */
static void uart_update_irq(struct uart *u)
{
	bool level = (uart_iir(u) & IIR_NO_INT) == 0;

	if (level == u->irq_level || !u->vm)
		return;
	u->irq_level = level;
	vm_irq_line(u->vm, PC_IRQ_COM1, level);
}

static u8 uart_read(struct uart *u, unsigned int reg)
{
	u8 v;

	switch (reg) {
	case UART_RBR:
		if (u->lcr & LCR_DLAB)
			return u->dll;
		v = rx_pop(u);
		pthread_cond_signal(&u->rx_space);
		return v;
	case UART_IER:
		return (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
	case UART_IIR:
		v = uart_iir(u);
		/* reading IIR acknowledges a THR-empty interrupt */
		if ((v & 0x0f) == IIR_THRI)
			u->thre_pending = false;
		return v;
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		v = uart_lsr(u);
		u->overrun = false;
		return v;
	case UART_MSR:
		v = u->msr;
		u->msr &= ~MSR_DELTAS;
		return v;
	case UART_SCR:
		return u->scr;
	}
	return 0xff;
}

static void uart_write(struct uart *u, unsigned int reg, u8 v)
{
	switch (reg) {
	case UART_THR:
		if (u->lcr & LCR_DLAB)
			u->dll = v;
		else
			uart_tx(u, v);
		break;
	case UART_IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
			break;
		}
		/* enabling the THRE interrupt with THR empty raises it */
		if ((v & IER_THRI) && !(u->ier & IER_THRI))
			u->thre_pending = true;
		else if (!(v & IER_THRI))
			u->thre_pending = false;
		u->ier = v & 0x0f;
		break;
	case UART_FCR:
		if ((v ^ u->fcr) & FCR_ENABLE)
			rx_clear(u);
		if (v & FCR_CLEAR_RX)
			rx_clear(u);
		u->fcr = v & (FCR_ENABLE | FCR_TRIGGER);
		pthread_cond_signal(&u->rx_space);
		break;
	case UART_LCR:
		u->lcr = v;
		break;
	case UART_MCR:
		u->mcr = v & MCR_MASK;
		update_msr(u);
		pthread_cond_signal(&u->rx_space);
		break;
	case UART_SCR:
		u->scr = v;
		break;
	default:
		/* LSR and MSR writes: factory test, ignored */
		break;
	}
}

static void uart_io(void *opaque, u64 offset, u8 *data, u32 len,
		    bool is_write)
{
	struct uart *u = opaque;
	u32 i;

	pthread_mutex_lock(&u->lock);
	for (i = 0; i < len; i++) {
		u64 reg = offset + i;

		if (reg >= UART_NR_REGS) {
			if (!is_write)
				data[i] = 0xff;
			continue;
		}
		if (is_write)
			uart_write(u, reg, data[i]);
		else
			data[i] = uart_read(u, reg);
	}
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

static void uart_reset(struct device *dev)
{
	struct uart *u = dev->priv;

	pthread_mutex_lock(&u->lock);
	u->ier = 0;
	u->lcr = 0;
	u->mcr = 0;
	u->fcr = 0;
	u->scr = 0;
	u->dll = 12;		/* 9600 baud */
	u->dlm = 0;
	u->overrun = false;
	u->thre_pending = false;
	u->msr = modem_lines(u);
	rx_clear(u);
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

static int uart_init(struct device *dev, struct vm *vm)
{
	struct uart *u = dev->priv;
	struct stat st;

	u->vm = vm;
	u->irq_level = false;
	u->stop = false;
	if (bus_register(BUS_PIO, COM1_BASE, UART_NR_REGS, "uart16550 COM1",
			 uart_io, u))
		return -1;
	u->in_fd = -1;
	u->in_tty = false;
	if (!fstat(STDIN_FILENO, &st)) {
		if (isatty(STDIN_FILENO)) {
			u->in_fd = STDIN_FILENO;
			u->in_tty = true;
		} else if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
			u->in_fd = STDIN_FILENO;
		}
	}
	uart_reset(dev);
	return 0;
}

/*
 * The input thread: wait for stdin (or the stop pipe), then move what is
 * there into the receive FIFO, waiting for room when it is full.
 */
static void *uart_input_thread(void *arg)
{
	struct uart *u = arg;
	u8 buf[UART_FIFO_SIZE];
	unsigned int i, space;
	ssize_t n;

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = u->in_fd, .events = POLLIN },
			{ .fd = u->stop_pipe[0], .events = POLLIN },
		};

		pthread_mutex_lock(&u->lock);
		while (!u->stop && (u->mcr & MCR_LOOP ||
				    u->rx_count >= rx_capacity(u)))
			pthread_cond_wait(&u->rx_space, &u->lock);
		pthread_mutex_unlock(&u->lock);
		if (u->stop)
			break;
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		if (!pfd[0].revents)
			continue;
		pthread_mutex_lock(&u->lock);
		space = rx_capacity(u) - u->rx_count;
		n = 0;
		if (space && !(u->mcr & MCR_LOOP))
			n = read(u->in_fd, buf, space);
		for (i = 0; n > 0 && i < (unsigned int)n; i++)
			rx_push(u, buf[i]);
		uart_update_irq(u);
		pthread_mutex_unlock(&u->lock);
		if (n == 0 && space)
			break;			/* end of input */
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			break;
	}
	return NULL;
}

static void uart_start_input(struct uart *u)
{
	int err;

	if (u->in_fd < 0 || u->in_thread_started)
		return;
	if (pipe(u->stop_pipe)) {
		pr_errno("uart16550: pipe");
		return;
	}
	u->stop = false;
	err = pthread_create(&u->in_thread, NULL, uart_input_thread, u);
	if (err) {
		errno = err;
		pr_errno("uart16550: input thread");
		return;
	}
	u->in_thread_started = true;
}

static void uart_stop_input(struct uart *u)
{
	if (!u->in_thread_started)
		return;
	pthread_mutex_lock(&u->lock);
	u->stop = true;
	pthread_cond_signal(&u->rx_space);
	pthread_mutex_unlock(&u->lock);
	if (write(u->stop_pipe[1], "", 1) < 0)
		pr_debug("uart16550: stop pipe: %s", strerror(errno));
	pthread_join(u->in_thread, NULL);
	u->in_thread_started = false;
	close(u->stop_pipe[0]);
	close(u->stop_pipe[1]);
	u->stop_pipe[0] = u->stop_pipe[1] = -1;
}

/* Character-at-a-time input without echo; ^C still raises SIGINT */
static void uart_power_up(struct device *dev)
{
	struct uart *u = dev->priv;
	struct termios tio;

	uart_start_input(u);

	if (!u->in_tty || tcgetpgrp(STDIN_FILENO) != getpgrp())
		return;
	if (tcgetattr(STDIN_FILENO, &u->saved_tio))
		return;
	tio = u->saved_tio;
	tio.c_lflag &= ~(ICANON | ECHO);
	tio.c_cc[VMIN] = 1;
	tio.c_cc[VTIME] = 0;
	if (!tcsetattr(STDIN_FILENO, TCSANOW, &tio))
		u->tty_changed = true;
}

static void uart_power_down(struct device *dev)
{
	struct uart *u = dev->priv;

	uart_stop_input(u);
	if (u->tty_changed)
		tcsetattr(STDIN_FILENO, TCSANOW, &u->saved_tio);
	u->tty_changed = false;
}

static struct device uart16550_dev = {
	.name		= "uart16550",
	.init		= uart_init,
	.reset		= uart_reset,
	.power_up	= uart_power_up,
	.power_down	= uart_power_down,
	.teardown	= uart_power_down,
	.priv		= &com1,
};
DEVICE_REGISTER(uart16550_dev);
