#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <libavutil/avutil.h>
#include <libavutil/error.h>

// FFmpeg's error codes and no-timestamp value are function-like macros, which Swift cannot import.
static inline int berg_averror_again(void) { return AVERROR(EAGAIN); }
static inline int berg_averror_eof(void) { return AVERROR_EOF; }
static inline int64_t berg_av_nopts_value(void) { return AV_NOPTS_VALUE; }

// One decoded frame into a packed RGB24 buffer of `stride` bytes per row (the frame's data
// pointers are a C array, which Swift sees as a tuple).
static inline int berg_sws_scale_frame(struct SwsContext *context, const AVFrame *frame, uint8_t *rgb, int stride) {
    uint8_t *planes[4] = { rgb, NULL, NULL, NULL };
    int strides[4] = { stride, 0, 0, 0 };
    return sws_scale(context, (const uint8_t *const *)frame->data, frame->linesize, 0, frame->height, planes, strides);
}

// Converts with the frame's own YUV matrix (BT.709 for HD video) and range, as FFmpeg's scale
// filter and OpenCV do; swscale alone would assume BT.601.
static inline void berg_sws_use_frame_colorspace(struct SwsContext *context, const AVFrame *frame) {
    int *inverse, *table, sourceRange, destinationRange, brightness, contrast, saturation;
    if (sws_getColorspaceDetails(context, &inverse, &sourceRange, &table, &destinationRange,
                                 &brightness, &contrast, &saturation) < 0) return;
    int range = frame->color_range == AVCOL_RANGE_JPEG ? 1 : sourceRange;
    sws_setColorspaceDetails(context, sws_getCoefficients(frame->colorspace), range, table, destinationRange,
                             brightness, contrast, saturation);
}
