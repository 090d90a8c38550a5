// The preprocessing a backbone.onnx expects, written into its metadata_props: what `dinotrain embed` does to an image
// (src/embed/preprocess.ts), which is the training views' resize (src/data/resize.ts). image_size, mean and std are
// written beside these; docs/pytorch.md has the same steps in Python.

export const PREPROCESS_METADATA: Readonly<Record<string, string>> = {
  color: 'RGB',
  resize: 'bilinear',
  resize_antialias: 'true',
  resize_align_corners: 'false',
  size_rule: 'whole image to image_size x image_size (aspect ratio not kept)',
  center_crop: 'false',
  pixel_scale: '1/255',
  layout: 'NCHW',
  preprocessing:
    'decode to 8-bit RGB (EXIF orientation applied, alpha dropped); resize the whole image to image_size x image_size ' +
    "with antialiased bilinear on float pixels (PIL Image.BILINEAR on mode 'F', or torch interpolate(mode='bilinear', " +
    'antialias=True, align_corners=False)); divide by 255; subtract mean and divide by std per channel; float32 NCHW',
};
