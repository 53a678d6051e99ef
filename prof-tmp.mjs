import * as tf from '@tensorflow/tfjs';
import { initTrainingBackend } from '/work/main/dist/src/learn/backend/index.js';
import { createLogger } from '/work/main/dist/src/logger.js';
import { buildCnn } from '/work/main/dist/src/learn/models.js';
const bn = process.argv[2]==='bn';
await initTrainingBackend({ logger: createLogger({level:'warn'}) });
const model = buildCnn({ inputSize:64, filters:[32,64,128,256], convsPerBlock:1, dense:[128], dropout:0.3, batchNorm:bn, globalPool:true, nClasses:3, seed:1 });
const opt = tf.train.adam(0.001);
const x = tf.randomUniform([32,64,64,3]); const y = tf.oneHot(tf.tensor1d([...Array(32)].map((_, i)=>i%3),'int32'),3);
const step = () => tf.tidy(()=> opt.minimize(()=> tf.losses.softmaxCrossEntropy(y, model.apply(x,{training:true})), true));
for (let i=0;i<3;i++) step().dispose();
const prof = await tf.profile(async ()=>{ for (let i=0;i<3;i++) { const l=step(); await l.data(); l.dispose(); } });
const agg = {};
for (const k of prof.kernels) { const t = await k.kernelTimeMs; const v = typeof t==='number'?t:0; agg[k.name]=(agg[k.name]??0)+v; }
console.log(Object.entries(agg).sort((a,b)=>b[1]-a[1]).slice(0,15).map(([k,v])=>k+' '+v.toFixed(0)).join('\n'));
