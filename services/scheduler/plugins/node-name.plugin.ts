/** NodeName: a pod that names its node fits only there. */
import type { FilterPlugin } from '../framework/index.js';
import { SUCCESS, unresolvable } from '../framework/index.js';

export const ERR_NODE_NAME = "node(s) didn't match the requested node name";
const REJECTED = unresolvable(ERR_NODE_NAME);

export const nodeName: FilterPlugin = {
  name: 'NodeName',
  skip: (pod) => pod.nodeName === '',
  filter: (pod, node) => (pod.nodeName === node.name ? SUCCESS : REJECTED),
};
