import { encodePng as encode } from '@sonde/datasets'

/**
 * A PNG of a grey (1 channel) or RGB (3 channels) image whose values are in [0, 1] (row-major, as a report's
 * `image` figure holds them); values outside are clipped, non-finite ones drawn black. The encoder is
 * `@sonde/datasets`' `encodePng`.
 *
 * @example
 * import { encodePng } from '@sonde/cli'
 *
 * const png = encodePng(2, 1, 1, [0, 1]) // a black and a white pixel
 * const signature = png.subarray(1, 4).toString() // 'PNG'
 */
export const encodePng = (width: number, height: number, channels: 1 | 3, pixels: ArrayLike<number>): Buffer => {
  const bytes = encode(pixels, width, height, channels)
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}
