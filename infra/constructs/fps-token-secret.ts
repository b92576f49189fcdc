// The secret holding Insider's FPS token: created with a placeholder, or an existing one by name or ARN (and its KMS key); and who may read it.
import { RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { keepStackLevelLogicalIds } from './logical-ids.js';

export interface FpsTokenSecretProps {
  /**
   * The name of an existing secret to use instead of creating one. Give at most one of this and `secretArn`.
   * @default - a secret is created with a generated placeholder
   */
  readonly secretName?: string;
  /**
   * The ARN (complete, or without the 6-character suffix) of an existing secret to use instead of creating one.
   * @default - a secret is created with a generated placeholder
   */
  readonly secretArn?: string;
  /**
   * The ARN of the customer managed KMS key an imported secret (`secretName` or `secretArn`) is
   * encrypted with. Readers then also get `kms:Decrypt` on it, only through Secrets Manager. A created
   * secret, or one under the AWS managed key, needs nothing here.
   * @default - the secret is under the AWS managed key `aws/secretsmanager`, whose key policy lets readers in
   */
  readonly kmsKeyArn?: string;
}

/** Where the FPS token lives. The token itself never passes through CDK: a created secret holds a random placeholder. */
export class FpsTokenSecret extends Construct {
  readonly secret: secretsmanager.ISecret;
  /** What the trigger passes as `SecretId`: the name or ARN given, or the created secret's ARN. */
  readonly secretId: string;
  /** What a person uses to put the token in the secret: its name, or the ARN it was imported by. */
  readonly nameOrArn: string;
  /** The customer managed key an imported secret is encrypted with, if any. */
  readonly kmsKeyArn: string | undefined;
  /** The resource `grantRead` names, matching any suffix Secrets Manager added to a name. */
  private readonly resourceArn: string;
  private readonly kmsKeyRegion: string | undefined;

  constructor(scope: Construct, id: string, props: FpsTokenSecretProps = {}) {
    super(scope, id);
    if (props.secretName !== undefined && props.secretArn !== undefined) {
      throw new Error(`${this.node.path}: give secretName or secretArn, not both (or neither, to create the secret)`);
    }
    if (props.secretName !== undefined) {
      this.secret = secretsmanager.Secret.fromSecretNameV2(this, 'FpsTokenSecret', props.secretName);
      // The name is a valid SecretId; the partial ARN CDK derives from it is not exact.
      this.secretId = props.secretName;
      this.nameOrArn = props.secretName;
    } else if (props.secretArn !== undefined) {
      // A complete ARN ends in the 6-character suffix Secrets Manager adds to the name.
      this.secret = /-[A-Za-z0-9]{6}$/.test(props.secretArn)
        ? secretsmanager.Secret.fromSecretCompleteArn(this, 'FpsTokenSecret', props.secretArn)
        : secretsmanager.Secret.fromSecretPartialArn(this, 'FpsTokenSecret', props.secretArn);
      this.secretId = props.secretArn;
      this.nameOrArn = props.secretArn;
    } else {
      const created = new secretsmanager.Secret(this, 'FpsTokenSecret', {
        description:
          'Insider One FPS API token for the segment upload pipeline. Replace the generated placeholder with your token (plain string).',
        // A random placeholder keeps the real token out of the template; the user overwrites it.
        generateSecretString: { passwordLength: 32, excludePunctuation: true },
        removalPolicy: RemovalPolicy.RETAIN,
      });
      // The user's token is in it: a new logical id would mean a new secret holding the placeholder.
      keepStackLevelLogicalIds(created);
      Validations.of(created).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          "The FPS token is issued in Insider's admin panel and cannot be rotated by a Lambda function; an administrator rotates it there and puts the new value in this secret, which the trigger re-reads within tokenCacheSeconds.",
      });
      this.secret = created;
      this.secretId = created.secretArn;
      this.nameOrArn = created.secretName;
    }
    this.resourceArn = this.secret.secretFullArn ?? `${this.secret.secretArn}-??????`;
    this.kmsKeyArn = props.kmsKeyArn;
    this.kmsKeyRegion = props.kmsKeyArn === undefined ? undefined : this.keyRegion(props, props.kmsKeyArn);
  }

  /**
   * Lets `grantee` read the token (GetSecretValue only; not DescribeSecret, which L2's `grantRead` adds),
   * and, for a secret under a customer managed key, decrypt it through Secrets Manager.
   */
  grantRead(grantee: iam.IGrantable): iam.Grant {
    const read = iam.Grant.addToPrincipal({ grantee, actions: ['secretsmanager:GetSecretValue'], resourceArns: [this.resourceArn] });
    if (this.kmsKeyArn === undefined) return read;
    // Secrets Manager calls kms:Decrypt with the reader's permissions; kms:ViaService keeps the grant
    // to that path, so the key decrypts nothing the reader could not already GetSecretValue (only
    // this secret). No kms:EncryptionContext:SecretARN condition: it would add nothing to that, and
    // the IAM check's simulator ignores that context key, so it could not be tested. The key's policy
    // must let the account's IAM policies decide (the default key policy does) or name the role.
    const decrypt = iam.Grant.addToPrincipal({
      grantee,
      actions: ['kms:Decrypt'],
      resourceArns: [this.kmsKeyArn],
      conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${this.kmsKeyRegion}.amazonaws.com` } },
    });
    return read.combine(decrypt);
  }

  /** The Region whose Secrets Manager uses the key: the key's own (a secret's key is in the secret's Region). */
  private keyRegion(props: FpsTokenSecretProps, kmsKeyArn: string): string {
    if (props.secretName === undefined && props.secretArn === undefined) {
      throw new Error(
        `${this.node.path}: kmsKeyArn applies only to an imported secret (secretName or secretArn); the created secret uses the AWS managed key`,
      );
    }
    const stackRegion = Stack.of(this).region;
    if (Token.isUnresolved(kmsKeyArn)) return stackRegion;
    const keyRegion = regionOfArn(kmsKeyArn);
    if (!keyRegion) throw new Error(`${this.node.path}: kmsKeyArn must be a key ARN (arn:aws:kms:<region>:<account>:key/<key id>), got ${kmsKeyArn}`);
    const secretRegion = props.secretArn !== undefined && !Token.isUnresolved(props.secretArn) ? regionOfArn(props.secretArn) : stackRegion;
    if (secretRegion !== undefined && !Token.isUnresolved(secretRegion) && secretRegion !== keyRegion) {
      throw new Error(`${this.node.path}: kmsKeyArn is in ${keyRegion} but the secret is in ${secretRegion}; Secrets Manager uses a key in the secret's own Region`);
    }
    return keyRegion;
  }
}

const regionOfArn = (arn: string): string | undefined => arn.split(':')[3];
