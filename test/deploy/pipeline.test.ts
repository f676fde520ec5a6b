import { describe, expect, it } from 'vitest';
import { parseYaml, readRepoFile } from './helpers.js';

// deploy/cloudformation/pipeline.yaml, checked by structure as leadgate.yaml is (cfn-lint is a
// pip tool, not installable here; nothing here talks to AWS).

const TEMPLATE = 'deploy/cloudformation/pipeline.yaml';
const template = parseYaml(readRepoFile(TEMPLATE));
const resources = template.Resources as Record<string, any>;
const pipeline = resources.Pipeline.Properties;
const stage = (name: string) => pipeline.Stages.find((s: any) => s.Name === name);
const refs = (value: unknown): string[] => [...JSON.stringify(value).matchAll(/"(?:Ref|Condition)":"([\w:]+)"|"Fn::GetAtt":\["(\w+)"|\$\{(\w+)[.}]/g)].map((m) => m[1] ?? m[2] ?? m[3]!);

describe('CodePipeline template', () => {
  it('parses as plain YAML (long-form intrinsics, no custom tags)', () => {
    expect(template.AWSTemplateFormatVersion).toBe('2010-09-09');
    expect(readRepoFile(TEMPLATE)).not.toMatch(/^\s*[^#\n]*:\s+!\w+/m);
  });

  it('refers only to its own parameters, conditions and resources', () => {
    const known = new Set([...Object.keys(template.Parameters), ...Object.keys(template.Conditions), ...Object.keys(resources), 'AWS::NoValue', 'AWS::Partition', 'AWS::Region', 'AWS::AccountId']);
    for (const name of refs(template.Resources)) expect(known.has(name), name).toBe(true);
  });

  it('runs source -> build -> staging -> approval -> production', () => {
    expect(pipeline.Stages.map((s: any) => s.Name)).toEqual(['Source', 'Build', 'Staging', 'Approval', 'Production']);
    expect(stage('Source').Actions[0].ActionTypeId).toMatchObject({ Category: 'Source', Provider: 'CodeStarSourceConnection' });
    expect(stage('Approval').Actions[0].ActionTypeId).toMatchObject({ Category: 'Approval', Provider: 'Manual' });
    for (const name of ['Source', 'Build', 'Staging', 'Approval', 'Production']) expect(stage(name).Actions).toHaveLength(1);
  });

  it('builds with buildspec.yml and deploys with deploy/buildspec-deploy.yml', () => {
    const build = stage('Build').Actions[0];
    expect(build.ActionTypeId).toMatchObject({ Category: 'Build', Provider: 'CodeBuild' });
    expect(build.Configuration.ProjectName).toEqual({ Ref: 'BuildProject' });
    expect(resources.BuildProject.Properties.Source).toEqual({ Type: 'CODEPIPELINE', BuildSpec: 'buildspec.yml' });
    expect(resources.DeployProject.Properties.Source).toEqual({ Type: 'CODEPIPELINE', BuildSpec: 'deploy/buildspec-deploy.yml' });
    expect(parseYaml(readRepoFile('buildspec.yml')).phases.build.commands).toContain('npm install && npm test');
  });

  it('deploys staging and production with the one version label the build exported', () => {
    const build = stage('Build').Actions[0];
    expect(build.Namespace).toBe('Build');
    expect(parseYaml(readRepoFile('buildspec.yml')).env['exported-variables']).toContain('VERSION_LABEL');
    const variables = (name: string) => {
      const action = stage(name).Actions[0];
      expect(action.Configuration.ProjectName).toEqual({ Ref: 'DeployProject' });
      expect(action.InputArtifacts).toEqual(build.OutputArtifacts);
      return Object.fromEntries((JSON.parse(action.Configuration.EnvironmentVariables) as any[]).map((v) => [v.name, v.value]));
    };
    expect(variables('Staging')).toEqual({ ENVIRONMENT: 'staging', VERSION_LABEL: '#{Build.VERSION_LABEL}' });
    expect(variables('Production')).toEqual({ ENVIRONMENT: 'production', VERSION_LABEL: '#{Build.VERSION_LABEL}' });
  });

  it('gives the deploy project the artifact bucket and time for EB to finish', () => {
    const deploy = resources.DeployProject.Properties;
    expect(deploy.Environment.EnvironmentVariables).toContainEqual({ Name: 'ARTIFACT_BUCKET', Value: { Ref: 'ArtifactBucket' } });
    // eb-deploy.sh waits (900 + 240) s x 7 batches = 133 min at most.
    expect(deploy.TimeoutInMinutes).toBeGreaterThanOrEqual(140);
    expect(pipeline.ArtifactStore).toEqual({ Type: 'S3', Location: { Ref: 'ArtifactBucket' } });
  });

  it('roles are assumed by their service only; the pipeline may start exactly its two projects', () => {
    const principal = (role: string) => resources[role].Properties.AssumeRolePolicyDocument.Statement[0].Principal.Service;
    expect(principal('PipelineRole')).toBe('codepipeline.amazonaws.com');
    expect(principal('BuildRole')).toBe('codebuild.amazonaws.com');
    expect(principal('DeployRole')).toBe('codebuild.amazonaws.com');
    const statements = resources.PipelineRole.Properties.Policies[0].PolicyDocument.Statement as any[];
    const builds = statements.find((s) => s.Sid === 'Builds');
    expect(builds.Resource).toEqual([{ 'Fn::GetAtt': ['BuildProject', 'Arn'] }, { 'Fn::GetAtt': ['DeployProject', 'Arn'] }]);
    for (const role of ['PipelineRole', 'BuildRole', 'DeployRole']) {
      for (const s of resources[role].Properties.Policies.flatMap((p: any) => p.PolicyDocument.Statement)) {
        if (s['Fn::If']) continue;
        for (const resource of [s.Resource].flat()) expect(resource, `${role} ${s.Sid}`).not.toBe('*');
      }
    }
  });
});
