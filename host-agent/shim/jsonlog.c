/*
 * The container's output in Docker's json-file format, one object per line:
 *   {"log":"hi\n","stream":"stdout","time":"2024-05-01T10:00:00.123456789Z"}
 * Like Docker, a line longer than 16 KiB is split into partial entries (no
 * trailing "\n" in "log"), and invalid UTF-8 becomes U+FFFD.
 */
#include "shim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PARTIAL_MAX 16384

struct line_buffer {
	char data[PARTIAL_MAX];
	size_t len;
};

struct json_log {
	int fd;
	struct line_buffer line[3];
	char *out;
	size_t out_len, out_cap;
	char time[48];
};

static const char *const stream_names[3] = { "stdin", "stdout", "stderr" };

struct json_log *json_log_open(int fd)
{
	struct json_log *log = calloc(1, sizeof(*log));
	if (!log)
		return NULL;
	log->fd = fd;
	return log;
}

void format_rfc3339nano(char *out, size_t outlen, const struct timespec *ts)
{
	struct tm tm;
	char frac[16];
	int digits = 9;
	gmtime_r(&ts->tv_sec, &tm);
	/* Go's RFC3339Nano drops trailing zeros of the fraction, and the dot when nothing is left. */
	snprintf(frac, sizeof(frac), "%09ld", ts->tv_nsec);
	while (digits > 0 && frac[digits - 1] == '0')
		digits--;
	frac[digits] = '\0';
	snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d%s%sZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, digits ? "." : "", frac);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if it is not valid. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (n < len)
		return 0;
	/* Reject overlong forms, surrogates and code points past U+10FFFF. */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* Writes a JSON string body (without quotes); out must hold 6 * len bytes. */
size_t json_escape(char *out, const char *in, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)in;
	char *o = out;
	size_t i = 0;
	while (i < len) {
		unsigned char c = s[i];
		size_t seq;
		switch (c) {
		case '"':
			*o++ = '\\';
			*o++ = '"';
			i++;
			continue;
		case '\\':
			*o++ = '\\';
			*o++ = '\\';
			i++;
			continue;
		case '\n':
			*o++ = '\\';
			*o++ = 'n';
			i++;
			continue;
		case '\r':
			*o++ = '\\';
			*o++ = 'r';
			i++;
			continue;
		case '\t':
			*o++ = '\\';
			*o++ = 't';
			i++;
			continue;
		default:
			break;
		}
		if (c < 0x20) {
			memcpy(o, "\\u00", 4);
			o[4] = hex[c >> 4];
			o[5] = hex[c & 15];
			o += 6;
			i++;
			continue;
		}
		seq = utf8_sequence(s + i, len - i);
		if (seq == 0) {
			memcpy(o, "\\ufffd", 6);
			o += 6;
			i++;
			continue;
		}
		memcpy(o, s + i, seq);
		o += seq;
		i += seq;
	}
	return (size_t)(o - out);
}

static void write_out(struct json_log *log)
{
	size_t done = 0;
	while (done < log->out_len) {
		ssize_t n = write(log->fd, log->out + done, log->out_len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* A full disk must not stall the container: drop the entries and say so. */
			fprintf(stderr, "skiff-shim: cannot write container log: %s\n", strerror(errno));
			break;
		}
		done += (size_t)n;
	}
	log->out_len = 0;
}

static void emit(struct json_log *log, int stream, const char *data, size_t len)
{
	size_t need = len * 6 + 128 + sizeof(log->time);
	if (log->out_len + need > log->out_cap) {
		size_t cap = log->out_cap ? log->out_cap : 65536;
		char *bigger;
		while (cap < log->out_len + need)
			cap *= 2;
		bigger = realloc(log->out, cap);
		if (!bigger) {
			write_out(log);
			return;
		}
		log->out = bigger;
		log->out_cap = cap;
	}
	log->out_len += (size_t)sprintf(log->out + log->out_len, "{\"log\":\"");
	log->out_len += json_escape(log->out + log->out_len, data, len);
	log->out_len += (size_t)sprintf(log->out + log->out_len, "\",\"stream\":\"%s\",\"time\":\"%s\"}\n",
					stream_names[stream], log->time);
}

static void stamp(struct json_log *log)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	format_rfc3339nano(log->time, sizeof(log->time), &now);
}

void json_log_feed(struct json_log *log, int stream, const char *data, size_t len)
{
	struct line_buffer *buf = &log->line[stream];
	stamp(log);
	while (len > 0) {
		size_t room = PARTIAL_MAX - buf->len;
		size_t take = len < room ? len : room;
		const char *nl = memchr(data, '\n', take);
		if (nl) {
			size_t upto = (size_t)(nl - data) + 1;
			if (buf->len == 0) {
				emit(log, stream, data, upto);
			} else {
				memcpy(buf->data + buf->len, data, upto);
				emit(log, stream, buf->data, buf->len + upto);
				buf->len = 0;
			}
			data += upto;
			len -= upto;
			continue;
		}
		memcpy(buf->data + buf->len, data, take);
		buf->len += take;
		data += take;
		len -= take;
		if (buf->len == PARTIAL_MAX) {
			emit(log, stream, buf->data, buf->len);
			buf->len = 0;
		}
	}
	write_out(log);
}

void json_log_flush(struct json_log *log, int stream)
{
	struct line_buffer *buf = &log->line[stream];
	if (buf->len == 0)
		return;
	stamp(log);
	emit(log, stream, buf->data, buf->len);
	buf->len = 0;
	write_out(log);
}
