import { ModelError } from '../errors.js';
import type { Manifest } from './manifest.js';

/**
 * Preprocessing recipes of common training tool chains, in the manifest's one formula:
 *   value = (pixel × scale − mean[c]) / std[c], pixel in 0..255.
 * So Keras' `x / 127.5 − 1` is scale 1/127.5, mean 1, std 1; torchvision's `(x/255 − m) / s`
 * is scale 1/255 with the ImageNet mean and std. Layout is read from the graph, not from the preset.
 */
export const PRESET_NAMES = ['keras', 'keras-mobilenet', 'torchvision', 'teachable-machine', 'imagenet-backbone'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

interface Preset {
  description: string;
  /** The layout this tool chain usually exports; used only when the graph cannot tell. */
  usualLayout: 'NCHW' | 'NHWC';
  build(size: [number, number]): Manifest['preprocess'];
}

const torchvisionStyle = (size: [number, number]): Manifest['preprocess'] => ({
  // torchvision's Resize(256) + CenterCrop(224): the shorter side goes to size × 256/224 first.
  resize: 'shorter-side-then-center-crop',
  size,
  resizeShorterTo: Math.round((Math.min(size[0], size[1]) * 256) / 224),
  scale: 1 / 255,
  mean: [...IMAGENET_MEAN],
  std: [...IMAGENET_STD],
  padColor: [0, 0, 0],
});

const PRESETS: Record<PresetName, Preset> = {
  keras: {
    description: 'Keras Rescaling(1/255) after image_dataset_from_directory (squash resize), NHWC',
    usualLayout: 'NHWC',
    build: (size) => ({ resize: 'squash', size, scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1], padColor: [0, 0, 0] }),
  },
  'keras-mobilenet': {
    description: 'Keras mobilenet(_v2).preprocess_input: x/127.5 − 1 (squash resize), NHWC',
    usualLayout: 'NHWC',
    build: (size) => ({ resize: 'squash', size, scale: 1 / 127.5, mean: [1, 1, 1], std: [1, 1, 1], padColor: [0, 0, 0] }),
  },
  torchvision: {
    description: 'torchvision Resize(256) + CenterCrop(224) + ToTensor + Normalize(ImageNet mean/std), NCHW',
    usualLayout: 'NCHW',
    build: torchvisionStyle,
  },
  'teachable-machine': {
    description: 'Teachable Machine image model: centre square crop (cover), 224×224, x/127.5 − 1, NHWC',
    usualLayout: 'NHWC',
    build: (size) => ({ resize: 'cover', size, scale: 1 / 127.5, mean: [1, 1, 1], std: [1, 1, 1], padColor: [0, 0, 0] }),
  },
  'imagenet-backbone': {
    description: 'ONNX Model Zoo / torchvision ImageNet classifiers (e.g. MobileNetV2): same as torchvision',
    usualLayout: 'NCHW',
    build: torchvisionStyle,
  },
};

export function isPresetName(name: string): name is PresetName {
  return (PRESET_NAMES as readonly string[]).includes(name);
}

/** The preprocess block of a preset for a model whose input is `size` = [height, width]. */
export function presetPreprocess(name: string, size: [number, number]): Manifest['preprocess'] {
  if (!isPresetName(name)) {
    throw new ModelError('PRESET_UNKNOWN', `unknown preprocessing preset "${name}"; use one of: ${PRESET_NAMES.join(', ')}`);
  }
  return PRESETS[name].build(size);
}

export function presetDescription(name: PresetName): string {
  return PRESETS[name].description;
}

export function presetUsualLayout(name: PresetName): 'NCHW' | 'NHWC' {
  return PRESETS[name].usualLayout;
}
