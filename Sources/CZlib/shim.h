// zlib from Debian's zlib1g-dev (libz-dev). Used by StitchWire for frame
// compression; inflateInit/deflateInit are macros Swift cannot import, so the
// Swift side calls inflateInit_/deflateInit_ with ZLIB_VERSION itself.
#include <zlib.h>
