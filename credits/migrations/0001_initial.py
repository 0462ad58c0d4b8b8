"""Store credits and their redemptions (issue 15, docs/instruments.md "Store credit")."""

import credits.models.redemption
import credits.models.store_credit
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('ledger', '0007_store_credit'),
        ('refunds', '0025_lines_instruments_proration'),
    ]

    operations = [
        migrations.CreateModel(
            name='StoreCredit',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('public_id', models.CharField(default=credits.models.store_credit.new_credit_public_id, editable=False, max_length=32, unique=True)),
                ('code_digest', models.CharField(editable=False, max_length=64, unique=True)),
                ('code_sealed', models.TextField(editable=False)),
                ('code_last', models.CharField(editable=False, help_text='The last group, for staff to match a call.', max_length=4)),
                ('currency', models.CharField(max_length=3)),
                ('amount_minor', models.BigIntegerField(help_text='Issued, bonus included.')),
                ('bonus_minor', models.BigIntegerField(default=0)),
                ('balance_minor', models.BigIntegerField()),
                ('expires_at', models.DateTimeField(blank=True, help_text='Empty: never expires.', null=True)),
                ('status', models.CharField(choices=[('active', 'Active'), ('spent', 'Spent'), ('expired', 'Expired')], default='active', max_length=10)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('merchant', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='store_credits', to='refunds.merchant')),
                ('refund', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='store_credit', to='refunds.refund')),
            ],
            options={
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='StoreCreditRedemption',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('public_id', models.CharField(default=credits.models.redemption.new_redemption_public_id, editable=False, max_length=32, unique=True)),
                ('amount_minor', models.BigIntegerField()),
                ('currency', models.CharField(max_length=3)),
                ('idempotency_key', models.CharField(max_length=255)),
                ('reference', models.CharField(blank=True, default='', help_text="The merchant's (order id …).", max_length=200)),
                ('balance_after_minor', models.BigIntegerField()),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('api_key', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='refunds.apikey')),
                ('credit', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='redemptions', to='credits.storecredit')),
                ('journal_entry', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='store_credit_redemption', to='ledger.journalentry')),
            ],
            options={
                'ordering': ['created_at', 'id'],
            },
        ),
        migrations.AddIndex(
            model_name='storecredit',
            index=models.Index(condition=models.Q(('status', 'active')), fields=['expires_at'], name='credit_active_expiry_idx'),
        ),
        migrations.AddConstraint(
            model_name='storecredit',
            constraint=models.CheckConstraint(condition=models.Q(('amount_minor__gt', 0)), name='credit_amount_positive'),
        ),
        migrations.AddConstraint(
            model_name='storecredit',
            constraint=models.CheckConstraint(condition=models.Q(('bonus_minor__gte', 0), ('bonus_minor__lt', models.F('amount_minor'))), name='credit_bonus_within_amount'),
        ),
        migrations.AddConstraint(
            model_name='storecredit',
            constraint=models.CheckConstraint(condition=models.Q(('balance_minor__gte', 0), ('balance_minor__lte', models.F('amount_minor'))), name='credit_balance_0_to_amount'),
        ),
        migrations.AddConstraint(
            model_name='storecredit',
            constraint=models.CheckConstraint(condition=models.Q(('status__in', ['active', 'spent', 'expired'])), name='credit_status_known'),
        ),
        migrations.AddConstraint(
            model_name='storecredit',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('status', 'spent'), _negated=True), ('balance_minor', 0), _connector='OR'), name='credit_spent_has_nothing_left'),
        ),
        migrations.AddConstraint(
            model_name='storecredit',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('status', 'active'), _negated=True), ('balance_minor__gt', 0), _connector='OR'), name='credit_active_has_balance'),
        ),
        migrations.AddConstraint(
            model_name='storecreditredemption',
            constraint=models.CheckConstraint(condition=models.Q(('amount_minor__gt', 0)), name='credit_redemption_amount_positive'),
        ),
        migrations.AddConstraint(
            model_name='storecreditredemption',
            constraint=models.CheckConstraint(condition=models.Q(('balance_after_minor__gte', 0)), name='credit_redemption_balance_after_not_negative'),
        ),
        migrations.AddConstraint(
            model_name='storecreditredemption',
            constraint=models.UniqueConstraint(fields=('credit', 'idempotency_key'), name='credit_redemption_key_unique'),
        ),
    ]
