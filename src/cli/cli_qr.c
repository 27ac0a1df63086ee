/*
 * QR codes of TOTP secrets, for authenticator apps: on the terminal and as
 * a PNG file. libqrencode makes the code, libpng writes the file.
 *
 * The terminal version draws two modules per character cell (the upper
 * half block, its foreground the upper module, its background the lower)
 * in explicit colours: drawing only the dark modules in the terminal's
 * own colours inverts the code on a light theme, which many scanners do
 * not read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <png.h>
#include <qrencode.h>

#include "cli.h"

#define QUIET 4		/* modules of light margin, as ISO/IEC 18004 asks */
#define PNG_SCALE 8	/* pixels a module */
#define ANSI_BLACK 16	/* of the 256-colour palette: exact black, white */
#define ANSI_WHITE 231

/* 1 if module (X, Y) of Q is dark; the quiet zone and beyond are light. */
static int
dark(const QRcode *q, int x, int y)
{
	return x >= 0 && y >= 0 && x < q->width && y < q->width &&
	    (q->data[y * q->width + x] & 1);
}

static QRcode *
encode(const char *text)
{
	return QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
}

void
cli_print_qr(const char *text)
{
	QRcode *q;
	int w, x, y;

	if (!isatty(STDOUT_FILENO) || (q = encode(text)) == NULL)
		return;
	w = q->width;
	for (y = -QUIET; y < w + QUIET; y += 2) {
		for (x = -QUIET; x < w + QUIET; x++)
			printf("\033[38;5;%dm\033[48;5;%dm\xe2\x96\x80",
			    dark(q, x, y) ? ANSI_BLACK : ANSI_WHITE,
			    y + 1 < w + QUIET && dark(q, x, y + 1) ?
			    ANSI_BLACK : ANSI_WHITE);
		printf("\033[0m\n");
	}
	QRcode_free(q);
}

/*
 * Q's image into F, ROW (SIDE bytes) as scratch. libpng reports errors by
 * longjmp, to here alone: nothing this function changes after its setjmp
 * is read after one. 0 on success.
 */
static int
write_png(FILE *f, const QRcode *q, png_bytep row, int side)
{
	png_structp png;
	png_infop info;
	volatile int ok = 0;

	if ((png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL,
	    NULL)) == NULL)
		return -1;
	if ((info = png_create_info_struct(png)) == NULL) {
		png_destroy_write_struct(&png, NULL);
		return -1;
	}
	if (setjmp(png_jmpbuf(png)) == 0) {
		png_init_io(png, f);
		png_set_IHDR(png, info, (png_uint_32)side, (png_uint_32)side,
		    8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
		    PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
		png_write_info(png, info);
		for (int y = 0; y < side; y++) {
			for (int x = 0; x < side; x++)
				row[x] = dark(q, x / PNG_SCALE - QUIET,
				    y / PNG_SCALE - QUIET) ? 0 : 255;
			png_write_row(png, row);
		}
		png_write_end(png, NULL);
		ok = 1;
	}
	png_destroy_write_struct(&png, &info);
	return ok ? 0 : -1;
}

cv_err
cli_qr_png(const char *text, const char *path)
{
	png_bytep row = NULL;
	QRcode *q = NULL;
	FILE *f = NULL;
	int fd, side;
	cv_err r = CV_ERR_IO;

	if ((q = encode(text)) == NULL)
		return cv_fail(CV_ERR_INVALID, "no QR code for that text: %s",
		    strerror(errno));
	side = (q->width + 2 * QUIET) * PNG_SCALE;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) < 0) {
		r = cv_fail(errno == EEXIST ? CV_ERR_EXISTS : CV_ERR_IO,
		    "%s: %s", path, strerror(errno));
		QRcode_free(q);
		return r;
	}
	if ((f = fdopen(fd, "wb")) == NULL) {
		close(fd);
		r = cv_fail(CV_ERR_NOMEM, "%s: %s", path, strerror(errno));
		goto out;
	}
	if ((row = malloc((size_t)side)) == NULL) {
		r = CV_ERR_NOMEM;
		goto out;
	}
	if (write_png(f, q, row, side) != 0) {
		r = cv_fail(CV_ERR_IO, "%s: cannot write the image", path);
		goto out;
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		r = cv_fail(CV_ERR_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	r = CV_OK;
 out:
	free(row);
	if (f && fclose(f) != 0 && r == CV_OK)
		r = cv_fail(CV_ERR_IO, "%s: %s", path, strerror(errno));
	if (r != CV_OK)
		(void)unlink(path);
	QRcode_free(q);
	return r;
}
