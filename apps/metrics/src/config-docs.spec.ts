import { describeConfigDocs } from '@cdp/testing';
import { metricsConfigSchema } from './config';

describeConfigDocs('metrics', metricsConfigSchema);
