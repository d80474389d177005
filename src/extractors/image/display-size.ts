/** Shown size from stored size and EXIF orientation, shared by every image reader. */

/** EXIF orientations 5..8 turn the image a quarter (EXIF 2.32 §4.6.4 A, tag 0x0112): width and height swap. */
export function displaySize(width: number, height: number, orientation: number): { displayWidth: number; displayHeight: number } {
  return orientation >= 5 && orientation <= 8
    ? { displayWidth: height, displayHeight: width }
    : { displayWidth: width, displayHeight: height };
}
