"""Film restoration: a seeded damage model, defect detection, temporal filtering and deflicker, and
U-Net restorers (trained on clean frames with synthetic damage) or pix2pix translators (trained on
real pairs). Pure library: numpy/torch/OpenCV in and out; the tasks in ``reelforge.tasks.restore``
join it to the studio."""
